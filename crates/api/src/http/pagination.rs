//! `?page=&limit=` of the offset-paged listings (patients, accounts, the audit trail).

use serde::Deserialize;

use crate::http::error::{ApiError, ApiResult};

/// `page` (from 1) and `limit` (1-100) of a listing.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page number, from 1.
    #[param(minimum = 1, maximum = 1_000_000)]
    pub page: Option<u32>,
    /// Items per page, 1-100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

impl PageQuery {
    pub fn resolve(&self) -> ApiResult<(u32, u32)> {
        let page = self.page.unwrap_or(1);
        let limit = self.limit.unwrap_or(20);
        let mut errors = Vec::new();
        if page == 0 || page > 1_000_000 {
            errors.push(shared::FieldError::new(
                "page",
                "out_of_range",
                "page must be between 1 and 1000000.",
            ));
        }
        if !(1..=100).contains(&limit) {
            errors.push(shared::FieldError::new(
                "limit",
                "out_of_range",
                "limit must be between 1 and 100.",
            ));
        }
        if errors.is_empty() {
            Ok((page, limit))
        } else {
            Err(ApiError::Validation(errors))
        }
    }
}
