-- CreateTable
CREATE TABLE "changes" (
    "seq" BIGINT NOT NULL,
    "entity" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "op" TEXT NOT NULL,
    "origin" TEXT NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "changes_pkey" PRIMARY KEY ("seq")
);

-- CreateTable
CREATE TABLE "change_counter" (
    "id" INTEGER NOT NULL,
    "seq" BIGINT NOT NULL,

    CONSTRAINT "change_counter_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "changes_created_at_idx" ON "changes"("created_at");

-- The counter row every writing transaction takes its sequence numbers from.
INSERT INTO "change_counter" ("id", "seq") VALUES (1, 0);
