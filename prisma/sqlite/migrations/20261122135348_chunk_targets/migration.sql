-- CreateTable
CREATE TABLE "chunk_targets" (
    "chunk_id" TEXT NOT NULL PRIMARY KEY,
    "factor" INTEGER NOT NULL
);
