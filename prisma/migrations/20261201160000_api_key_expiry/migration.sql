-- API keys may expire, and record the address of their last use (issue 11, item 3).
-- AlterTable
ALTER TABLE "ApiKey" ADD COLUMN "expiresAt" DATETIME;
ALTER TABLE "ApiKey" ADD COLUMN "lastUsedFrom" TEXT;
