-- Accounts (issue 13, item 8): an admin's reset makes the user choose their own password at next login.
-- ADD COLUMN rather than the table rebuild `migrate diff` proposes: a rebuild drops "User", and with foreign keys on
-- (migrations run in a transaction, where PRAGMA foreign_keys cannot be turned off) that would cascade to every
-- Session and ApiKey.
ALTER TABLE "User" ADD COLUMN "mustChangePassword" BOOLEAN NOT NULL DEFAULT false;

-- Certificates (issue 13, item 7): a key generated on the appliance and its CSR, waiting for the CA's certificate.
CREATE TABLE "CertificateRequest" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "name" TEXT NOT NULL,
    "subject" TEXT NOT NULL,
    "altNames" TEXT NOT NULL,
    "keyType" TEXT NOT NULL,
    "csrPem" TEXT NOT NULL,
    "privateKeyPem" TEXT NOT NULL,
    "createdBy" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE UNIQUE INDEX "CertificateRequest_name_key" ON "CertificateRequest"("name");
