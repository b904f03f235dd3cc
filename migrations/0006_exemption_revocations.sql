-- Who ended an exemption early, kept apart from who approved it, so that a
-- revoked exemption still shows its approver. (Before this, a revocation
-- replaced the decision columns; the audit trail has both steps.)
ALTER TABLE exemptions ADD COLUMN revoked_by TEXT;
ALTER TABLE exemptions ADD COLUMN revoked_user TEXT;
ALTER TABLE exemptions ADD COLUMN revoked_ms INTEGER;
ALTER TABLE exemptions ADD COLUMN revoke_reason TEXT;
