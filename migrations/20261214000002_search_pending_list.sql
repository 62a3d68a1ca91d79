-- The trigram index's pending list (GIN `fastupdate`): new rows' entries wait in an unsorted list until a vacuum
-- or until the list outgrows `gin_pending_list_limit` (4 MB by default), and every search of every clinic reads
-- the whole list. With autovacuum late or off, a few thousand new patients made a common-term search at 1,000
-- patients 10-20x slower (the benchmark's create row before its search row: 1,842 req/s in one run, 306 in the
-- next). At 256 kB the list a search reads stays about 30 pages; the inserts' cost was unchanged in the
-- measurement (10,000 single-row inserts: 2.7-2.8 s at 4 MB, 2.9-3.1 s at 256 kB), as each flush is smaller.
alter index patients_clinic_search_idx set (gin_pending_list_limit = 256);
