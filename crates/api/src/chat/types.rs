//! Parsed chat input.

use crate::http::error::ApiError;

pub const CONTENT_MAX: usize = 4_000;

/// A message's text: trimmed, 1-4,000 characters.
#[derive(Clone)]
pub struct MessageContent(String);

impl MessageContent {
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(ApiError::validation(
                "content",
                "required",
                "The message cannot be empty.",
            ));
        }
        if s.contains('\0') {
            return Err(ApiError::validation(
                "content",
                "invalid",
                "The message must not contain NUL characters.",
            ));
        }
        if s.chars().count() > CONTENT_MAX {
            return Err(ApiError::validation(
                "content",
                "too_long",
                format!("The message must be at most {CONTENT_MAX} characters."),
            ));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_is_trimmed_and_bounded() {
        assert_eq!(MessageContent::parse("  hi ").map(|c| c.0).ok().as_deref(), Some("hi"));
        assert!(MessageContent::parse(" \n\t ").is_err());
        assert!(MessageContent::parse(&"é".repeat(4000)).is_ok());
        assert!(MessageContent::parse(&"a".repeat(4001)).is_err());
    }
}
