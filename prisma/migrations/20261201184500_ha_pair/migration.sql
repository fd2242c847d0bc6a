-- CreateTable
CREATE TABLE "HaPeer" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "role" TEXT NOT NULL,
    "localName" TEXT NOT NULL,
    "peerName" TEXT NOT NULL,
    "peerUrl" TEXT NOT NULL,
    "peerConsoleUrl" TEXT NOT NULL,
    "peerFingerprint" TEXT NOT NULL,
    "pairKey" TEXT NOT NULL,
    "pairedAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastSyncAt" DATETIME,
    "lastSyncHash" TEXT,
    "lastSyncError" TEXT
);

-- CreateTable
CREATE TABLE "HaPairingCode" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "codeHash" TEXT NOT NULL,
    "createdBy" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expiresAt" DATETIME NOT NULL,
    "usedAt" DATETIME
);

-- CreateTable
CREATE TABLE "HaEventLog" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "at" DATETIME NOT NULL,
    "node" TEXT,
    "kind" TEXT NOT NULL,
    "instance" TEXT,
    "state" TEXT NOT NULL,
    "previous" TEXT,
    "message" TEXT NOT NULL
);

-- CreateIndex
CREATE UNIQUE INDEX "HaPairingCode_codeHash_key" ON "HaPairingCode"("codeHash");

-- CreateIndex
CREATE INDEX "HaEventLog_at_idx" ON "HaEventLog"("at");

