DROP TABLE erasures;
DROP TABLE audit_log;
