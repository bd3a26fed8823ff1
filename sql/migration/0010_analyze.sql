-- Give the planner statistics for the freshly loaded tables before the app comes back.
-- Requires: 0001 to 0009 applied. Safe to repeat.
ANALYZE public."User", public."Organization", public."OrganizationMember", public."McpServer", public."Tool",
        public."UserMcpServerConfig", public."UserToolGroup", public."UserMcpServerInstance",
        public."UserToolGroupTool", public."UserMcpServerInstanceToolGroup", public."McpServerRequestLog",
        public."McpServerRequestData", public."McpApiKey";
