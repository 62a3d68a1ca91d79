-- Plans that do not depend on the statistics (issue 20; checked by the `plans` integration test). `patient_page`
-- plans once per connection (generic plans, 20261214000001). With statistics taken while a clinic was small (or
-- none: autovacuum off, never analysed) the planner estimated one row, read the whole clinic through the primary
-- key and sorted it for a page of 20 (6.7 ms at 5,000 patients, growing with the clinic), and kept that plan for
-- the connection's life. Every order of the page has its own index `(clinic_id, key, id)`, so a sort is never
-- needed there: with sorting priced out, the ordered index scan wins whatever the estimates say.
alter function patient_page(uuid, uuid, text[], text, boolean, text, bigint, bigint) set enable_sort = off;
