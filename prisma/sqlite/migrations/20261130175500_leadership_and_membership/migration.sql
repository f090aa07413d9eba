-- CreateTable
CREATE TABLE "leader_lease" (
    "name" TEXT NOT NULL PRIMARY KEY,
    "holder" TEXT NOT NULL,
    "epoch" INTEGER NOT NULL,
    "expires_at" BIGINT NOT NULL
);

-- CreateTable
CREATE TABLE "control_replicas" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "address" TEXT NOT NULL,
    "version" TEXT NOT NULL,
    "started_at" DATETIME NOT NULL,
    "last_seen_at" DATETIME NOT NULL,
    "agents" INTEGER NOT NULL
);
