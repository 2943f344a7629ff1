-- GET /api/notes lists newest first: ORDER BY created_at DESC, id DESC LIMIT n.
CREATE INDEX notes_created_at_id_idx ON notes (created_at DESC, id DESC);
