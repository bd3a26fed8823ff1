-- Transform, request payloads (R9): every payload kept, copied byte for byte.
-- It reads only the legacy schema and writes only its own table, which no other load reads, so
-- plan.toml lists it under [transform] apart: it runs on a connection of its own, in a
-- transaction of its own, beside 0002 to 0005 (the window's biggest rows load while the others
-- do). With --jobs 1, or no connection to spare, it runs in their transaction instead.
-- Requires: 0001 applied. Idempotent.

INSERT INTO cutover_target."McpServerRequestData" ("id", "requestLogId", "inputDataCompressed", "outputDataCompressed",
                                           "originalInputSize", "originalOutputSize", "compressedInputSize",
                                           "compressedOutputSize", "compressionRatio", "createdAt")
SELECT d."id", d."requestLogId", d."inputDataCompressed", d."outputDataCompressed", d."originalInputSize",
       d."originalOutputSize", d."compressedInputSize", d."compressedOutputSize", d."compressionRatio", d."createdAt"
FROM public."McpServerRequestData" d
WHERE NOT EXISTS (SELECT 1 FROM cutover_target."McpServerRequestData" there WHERE there."id" = d."id");
