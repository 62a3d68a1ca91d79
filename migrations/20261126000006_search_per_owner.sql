-- Search per owner: one GIN index over (user_id, search_text trigrams) instead of trigrams alone.
--
-- With trigrams alone, a common word ("smith") matched rows of every account and each small account's
-- search had to read and discard the others' matches (measured: 148 searches/s at 32 clients for an
-- account of 1,000 patients next to one of 1,000,000). With the owner in the same GIN index the bitmap
-- is intersected with the owner's entries first (btree_gin supplies the uuid operator class).
create extension if not exists btree_gin;
create index patients_user_search_idx on patients using gin (user_id, search_text gin_trgm_ops);
drop index if exists patients_search_trgm_idx;
