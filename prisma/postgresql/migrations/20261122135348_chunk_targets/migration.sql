-- CreateTable
CREATE TABLE "chunk_targets" (
    "chunk_id" TEXT NOT NULL,
    "factor" INTEGER NOT NULL,

    CONSTRAINT "chunk_targets_pkey" PRIMARY KEY ("chunk_id")
);
