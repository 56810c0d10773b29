-- Schemas (SPEC 2). PUBLIC gets nothing: identity data is personal data.
CREATE SCHEMA raw;
CREATE SCHEMA canon;
CREATE SCHEMA ops;
CREATE SCHEMA ct4;
REVOKE ALL ON SCHEMA raw, canon, ops, ct4 FROM PUBLIC;
