-- CreateTable
CREATE TABLE "TrafficSample" (
    "tier" INTEGER NOT NULL,
    "virtualService" TEXT NOT NULL,
    "realServer" TEXT NOT NULL,
    "at" BIGINT NOT NULL,
    "samples" INTEGER NOT NULL,
    "spanS" REAL NOT NULL,
    "connSum" REAL NOT NULL,
    "connMax" REAL NOT NULL,
    "newConns" REAL NOT NULL,
    "bytesIn" REAL NOT NULL,
    "bytesOut" REAL NOT NULL,
    "requests" REAL,
    "r1xx" REAL,
    "r2xx" REAL,
    "r3xx" REAL,
    "r4xx" REAL,
    "r5xx" REAL,
    "rOther" REAL,
    "latencySumMs" REAL,
    "latencyWeight" REAL,

    PRIMARY KEY ("tier", "virtualService", "realServer", "at")
);

-- CreateIndex
CREATE INDEX "TrafficSample_tier_at_idx" ON "TrafficSample"("tier", "at");

