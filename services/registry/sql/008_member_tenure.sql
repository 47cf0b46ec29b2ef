-- When each member joined and left their BIN, for the yearly evaluation's growth figures.
-- Kept apart from the member row because that row goes on erasure; this one holds no
-- personal data (ids and two times), so it outlives it. Triggers keep it, so every way a
-- member arrives (one registration, a CSV import) or goes (removal, erasure) is counted.
CREATE TABLE member_tenure (
    member_id  uuid PRIMARY KEY,
    bin_id     uuid NOT NULL,
    -- NULL: before this table existed and unknown (members erased before it).
    joined_at  timestamptz,
    left_at    timestamptz
);
CREATE INDEX member_tenure_bin_idx ON member_tenure (bin_id);

CREATE FUNCTION member_tenure_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO member_tenure (member_id, bin_id, joined_at)
        VALUES (NEW.member_id, NEW.bin_id, NEW.joined_at)
        ON CONFLICT (member_id) DO NOTHING;
    ELSIF TG_OP = 'UPDATE' THEN
        -- Removal under the house rules: the member left, though the row stays for the appeal.
        UPDATE member_tenure SET left_at = now()
        WHERE member_id = NEW.member_id AND left_at IS NULL;
    ELSE
        UPDATE member_tenure SET left_at = now()
        WHERE member_id = OLD.member_id AND left_at IS NULL;
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER member_tenure_joined AFTER INSERT ON member
    FOR EACH ROW EXECUTE FUNCTION member_tenure_track();
CREATE TRIGGER member_tenure_removed AFTER UPDATE OF standing ON member
    FOR EACH ROW WHEN (NEW.standing = 'removed' AND OLD.standing <> 'removed')
    EXECUTE FUNCTION member_tenure_track();
CREATE TRIGGER member_tenure_erased AFTER DELETE ON member
    FOR EACH ROW EXECUTE FUNCTION member_tenure_track();

INSERT INTO member_tenure (member_id, bin_id, joined_at, left_at)
SELECT m.member_id, m.bin_id, m.joined_at,
       (SELECT max(s.decided_at) FROM member_sanction s
        WHERE s.member_id = m.member_id AND s.kind = 'removal')
FROM member m;
INSERT INTO member_tenure (member_id, bin_id, joined_at, left_at)
SELECT member_id, bin_id, NULL, erased_at FROM member_erasure
ON CONFLICT (member_id) DO NOTHING;
