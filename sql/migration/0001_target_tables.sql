-- Copied from sql/spec/target-schema.sql (schema, enums, tables without their primary keys); keys
-- and indexes in 0007. tests/test_sql_layout.py fails when the two drift from the spec.
-- Target schema, part 1, as in the spec (Prisma migrate diff --from-empty) but for each table's
-- PRIMARY KEY constraint, which 0007 adds under the same name after the bulk load: the transform
-- loads tables with no index at all (at 200,000 users, B-tree upkeep on random ids as the rows went
-- in cost 21 s of a 52 s transform). Primary keys and indexes are in 0007_target_keys_and_indexes.sql,
-- foreign keys in 0008_target_foreign_keys.sql, built after the bulk load because that is faster.
-- Built apart, in the schema "cutover_target" (the spec's "public" renamed): the legacy schema stays
-- in "public", where the backup dumps it beside the transform, and reset swaps the two once both
-- are done. Requires: no schema "cutover_target" (preflight refuses a window that would find one).

-- CreateSchema
CREATE SCHEMA "cutover_target";

-- CreateEnum
CREATE TYPE "cutover_target"."Role" AS ENUM ('SYSTEM_ADMIN', 'USER');

-- CreateEnum
CREATE TYPE "cutover_target"."TransportType" AS ENUM ('STDIO', 'SSE', 'STREAMABLE_HTTPS');

-- CreateEnum
CREATE TYPE "cutover_target"."AuthType" AS ENUM ('NONE', 'API_KEY', 'OAUTH');

-- CreateEnum
CREATE TYPE "cutover_target"."McpServerVisibility" AS ENUM ('PRIVATE', 'ORGANIZATION', 'PUBLIC');

-- CreateEnum
CREATE TYPE "cutover_target"."ServerStatus" AS ENUM ('RUNNING', 'STOPPED', 'ERROR', 'PENDING');

-- CreateEnum
CREATE TYPE "cutover_target"."ServerType" AS ENUM ('CUSTOM', 'OFFICIAL');

-- CreateTable
CREATE TABLE "cutover_target"."McpApiKey" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "apiKey" TEXT NOT NULL,
    "apiKeyHash" TEXT,
    "isActive" BOOLEAN NOT NULL DEFAULT true,
    "lastUsedAt" TIMESTAMP(3),
    "expiresAt" TIMESTAMP(3),
    "userMcpServerInstanceId" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL
);

-- CreateTable
CREATE TABLE "cutover_target"."User" (
    "id" TEXT NOT NULL,
    "name" TEXT,
    "email" TEXT,
    "image" TEXT,
    "role" "cutover_target"."Role" NOT NULL DEFAULT 'USER',
    "defaultOrganizationId" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL
);

-- CreateTable
CREATE TABLE "cutover_target"."McpServer" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "iconPath" TEXT,
    "transportType" "cutover_target"."TransportType" NOT NULL DEFAULT 'STDIO',
    "command" TEXT,
    "args" TEXT[],
    "url" TEXT,
    "envVars" TEXT[],
    "authType" "cutover_target"."AuthType" NOT NULL DEFAULT 'NONE',
    "oauthProvider" VARCHAR(50),
    "oauthScopes" TEXT[],
    "serverType" "cutover_target"."ServerType" NOT NULL DEFAULT 'OFFICIAL',
    "createdBy" TEXT,
    "visibility" "cutover_target"."McpServerVisibility" NOT NULL DEFAULT 'PRIVATE',
    "organizationId" TEXT,
    "isPublic" BOOLEAN NOT NULL DEFAULT false,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL
);

-- CreateTable
CREATE TABLE "cutover_target"."Tool" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT NOT NULL,
    "inputSchema" JSONB NOT NULL,
    "isEnabled" BOOLEAN NOT NULL DEFAULT true,
    "mcpServerId" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL
);

-- CreateTable
CREATE TABLE "cutover_target"."Organization" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT,
    "logoUrl" TEXT,
    "isDeleted" BOOLEAN NOT NULL DEFAULT false,
    "isPersonal" BOOLEAN NOT NULL DEFAULT true,
    "maxMembers" INTEGER NOT NULL DEFAULT 1,
    "createdBy" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL
);

-- CreateTable
CREATE TABLE "cutover_target"."OrganizationMember" (
    "id" TEXT NOT NULL,
    "organizationId" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "isAdmin" BOOLEAN NOT NULL DEFAULT false,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL
);

-- CreateTable
CREATE TABLE "cutover_target"."UserMcpServerConfig" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT NOT NULL,
    "envVars" TEXT NOT NULL,
    "oauthConnection" TEXT,
    "mcpServerId" TEXT NOT NULL,
    "organizationId" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL
);

-- CreateTable
CREATE TABLE "cutover_target"."UserToolGroupTool" (
    "userMcpServerConfigId" TEXT NOT NULL,
    "toolGroupId" TEXT NOT NULL,
    "toolId" TEXT NOT NULL,
    "sortOrder" INTEGER NOT NULL DEFAULT 0,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- CreateTable
CREATE TABLE "cutover_target"."UserToolGroup" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT NOT NULL,
    "isEnabled" BOOLEAN NOT NULL DEFAULT true,
    "organizationId" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL
);

-- CreateTable
CREATE TABLE "cutover_target"."UserMcpServerInstanceToolGroup" (
    "mcpServerInstanceId" TEXT NOT NULL,
    "toolGroupId" TEXT NOT NULL,
    "sortOrder" INTEGER NOT NULL DEFAULT 0,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- CreateTable
CREATE TABLE "cutover_target"."UserMcpServerInstance" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT NOT NULL,
    "iconPath" TEXT,
    "serverStatus" "cutover_target"."ServerStatus" NOT NULL,
    "serverType" "cutover_target"."ServerType" NOT NULL,
    "toolGroupId" TEXT NOT NULL,
    "authType" "cutover_target"."AuthType" NOT NULL DEFAULT 'API_KEY',
    "organizationId" TEXT NOT NULL,
    "displayOrder" INTEGER NOT NULL DEFAULT 0,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    "deletedAt" TIMESTAMP(3)
);

-- CreateTable
CREATE TABLE "cutover_target"."McpServerRequestLog" (
    "id" TEXT NOT NULL,
    "mcpServerInstanceId" TEXT NOT NULL,
    "toolName" TEXT NOT NULL,
    "transportType" "cutover_target"."TransportType" NOT NULL,
    "method" TEXT NOT NULL,
    "responseStatus" TEXT NOT NULL,
    "durationMs" INTEGER NOT NULL,
    "errorMessage" TEXT,
    "errorCode" TEXT,
    "inputBytes" INTEGER,
    "outputBytes" INTEGER,
    "organizationId" TEXT NOT NULL,
    "userAgent" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- CreateTable
CREATE TABLE "cutover_target"."McpServerRequestData" (
    "id" TEXT NOT NULL,
    "requestLogId" TEXT NOT NULL,
    "inputDataCompressed" BYTEA NOT NULL,
    "outputDataCompressed" BYTEA NOT NULL,
    "originalInputSize" INTEGER NOT NULL,
    "originalOutputSize" INTEGER NOT NULL,
    "compressedInputSize" INTEGER NOT NULL,
    "compressedOutputSize" INTEGER NOT NULL,
    "compressionRatio" DOUBLE PRECISION NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);

