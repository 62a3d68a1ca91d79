//! Records that move: the clinic's patients out as FHIR R4 NDJSON or CSV (`GET /export/patients`), and a file of
//! patients in (`POST /import/patients`), held to the very rules of `POST /patients`.
//!
//! `types` (formats, media types, limits, query parameters), `csv_file` and `fhir` (each format's columns or
//! resources, both ways), `queries` (the export's keyset batch with its audit rows, the import's duplicate check
//! and bulk insert), `service` (the streamed export, the import's parse, check and all-or-nothing insert) and
//! `routes` (the two handlers and their OpenAPI description). README.md ("Export and import") and DESIGN.md
//! ("Records that move") describe the formats and the decisions.

pub mod csv_file;
pub mod fhir;
pub mod queries;
pub mod routes;
pub mod service;
pub mod types;
