-- CreateTable
CREATE TABLE "HealthTransition" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "at" DATETIME NOT NULL,
    "engineStartedAt" TEXT NOT NULL,
    "seq" INTEGER NOT NULL,
    "virtualService" TEXT NOT NULL,
    "realServer" TEXT NOT NULL,
    "previous" TEXT NOT NULL,
    "health" TEXT NOT NULL,
    "code" TEXT NOT NULL,
    "message" TEXT NOT NULL,
    "durationMs" REAL NOT NULL,
    "check" TEXT NOT NULL,
    "target" TEXT NOT NULL
);

-- CreateIndex
CREATE INDEX "HealthTransition_virtualService_realServer_at_idx" ON "HealthTransition"("virtualService", "realServer", "at");

-- CreateIndex
CREATE INDEX "HealthTransition_at_idx" ON "HealthTransition"("at");

-- CreateIndex
CREATE UNIQUE INDEX "HealthTransition_engineStartedAt_seq_key" ON "HealthTransition"("engineStartedAt", "seq");

