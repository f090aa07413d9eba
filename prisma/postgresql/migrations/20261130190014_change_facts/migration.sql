-- AlterTable
ALTER TABLE "changes" ADD COLUMN     "data" TEXT;
