-- Transform, request logs (R7, R9): every log kept, no caps, no sampling. Their payloads are 0006.
-- organizationId = the legacy organizationId where set, else the organization its instance has after
-- R5 (this covers logs whose user was deleted).
-- Requires: 0004 applied in this transaction. Idempotent.
-- LEFT JOIN, as in 0004: a log whose instance is gone is never dropped here; the target's keys
-- and NOT NULL name it instead.

INSERT INTO cutover_target."McpServerRequestLog" ("id", "mcpServerInstanceId", "toolName", "transportType", "method",
                                          "responseStatus", "durationMs", "errorMessage", "errorCode", "inputBytes",
                                          "outputBytes", "organizationId", "userAgent", "createdAt")
SELECT l."id", l."mcpServerInstanceId", l."toolName", l."transportType"::text::cutover_target."TransportType", l."method",
       l."responseStatus", l."durationMs", l."errorMessage", l."errorCode", l."inputBytes", l."outputBytes",
       coalesce(l."organizationId", i."organizationId"), l."userAgent", l."createdAt"
FROM public."McpServerRequestLog" l
LEFT JOIN cutover_target."UserMcpServerInstance" i ON i.id = l."mcpServerInstanceId"
WHERE NOT EXISTS (SELECT 1 FROM cutover_target."McpServerRequestLog" there WHERE there."id" = l."id");
