-- CreateTable
CREATE TABLE "leader_lease" (
    "name" TEXT NOT NULL,
    "holder" TEXT NOT NULL,
    "epoch" INTEGER NOT NULL,
    "expires_at" BIGINT NOT NULL,

    CONSTRAINT "leader_lease_pkey" PRIMARY KEY ("name")
);

-- CreateTable
CREATE TABLE "control_replicas" (
    "id" TEXT NOT NULL,
    "address" TEXT NOT NULL,
    "version" TEXT NOT NULL,
    "started_at" TIMESTAMP(3) NOT NULL,
    "last_seen_at" TIMESTAMP(3) NOT NULL,
    "agents" INTEGER NOT NULL,

    CONSTRAINT "control_replicas_pkey" PRIMARY KEY ("id")
);
