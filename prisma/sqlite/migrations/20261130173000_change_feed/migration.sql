-- CreateTable
CREATE TABLE "changes" (
    "seq" BIGINT NOT NULL PRIMARY KEY,
    "entity" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "op" TEXT NOT NULL,
    "origin" TEXT NOT NULL,
    "created_at" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "change_counter" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "seq" BIGINT NOT NULL
);

-- CreateIndex
CREATE INDEX "changes_created_at_idx" ON "changes"("created_at");

-- The counter row every writing transaction takes its sequence numbers from.
INSERT INTO "change_counter" ("id", "seq") VALUES (1, 0);
