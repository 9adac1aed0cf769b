use super::InvalidInput;
use base64::Engine;
use base64::alphabet::URL_SAFE;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};

/// URL-safe, unpadded; decoding ignores the unused trailing bits, so every
/// 22-character cursor of the documented pattern decodes.
const CURSOR: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);
use uuid::Uuid;

pub const DEFAULT_LIMIT: u32 = 20;
pub const MAX_LIMIT: u32 = 100;

/// Opaque position in a listing: the id of the last item seen (ids are
/// time-ordered UUIDv7, so "after this id" is "created after this one").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor(pub Uuid);

impl Cursor {
    pub fn encode(self) -> String {
        CURSOR.encode(self.0.as_bytes())
    }

    pub fn decode(value: &str) -> Result<Self, InvalidInput> {
        let invalid = || InvalidInput::new("cursor", "is not a cursor returned by this API");
        let bytes = CURSOR.decode(value).map_err(|_| invalid())?;
        let uuid = Uuid::from_slice(&bytes).map_err(|_| invalid())?;
        Ok(Self(uuid))
    }
}

/// A validated page request: `limit` in 1..=100, optional cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: u32,
    pub after: Option<Uuid>,
}

impl PageRequest {
    pub fn parse(limit: Option<i64>, cursor: Option<&str>) -> Result<Self, InvalidInput> {
        let limit = match limit {
            None => DEFAULT_LIMIT,
            Some(n) if (1..=i64::from(MAX_LIMIT)).contains(&n) => n as u32,
            Some(_) => return Err(InvalidInput::new("limit", "must be between 1 and 100")),
        };
        let after = cursor.map(Cursor::decode).transpose()?.map(|c| c.0);
        Ok(Self { limit, after })
    }

    /// Adapters fetch one more row than asked, to know whether a next page exists.
    pub fn fetch_limit(&self) -> usize {
        self.limit as usize + 1
    }
}

/// One page of a listing, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` rows fetched after the cursor.
    pub fn from_rows(mut rows: Vec<T>, request: &PageRequest, id_of: impl Fn(&T) -> Uuid) -> Self {
        let more = rows.len() > request.limit as usize;
        rows.truncate(request.limit as usize);
        let next_cursor = if more {
            rows.last().map(|last| Cursor(id_of(last)).encode())
        } else {
            None
        };
        Self {
            items: rows,
            next_cursor,
        }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let id = Uuid::now_v7();
        assert_eq!(Cursor::decode(&Cursor(id).encode()).unwrap().0, id);
        assert_eq!(Cursor::decode("nope!").unwrap_err().field, "cursor");
        assert_eq!(Cursor::decode("AAAA").unwrap_err().field, "cursor");
    }

    #[test]
    fn limits_are_bounded() {
        assert_eq!(PageRequest::parse(None, None).unwrap().limit, 20);
        assert_eq!(
            PageRequest::parse(Some(0), None).unwrap_err().field,
            "limit"
        );
        assert_eq!(
            PageRequest::parse(Some(101), None).unwrap_err().field,
            "limit"
        );
    }

    #[test]
    fn a_page_has_a_cursor_only_when_more_rows_exist() {
        let ids: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
        let request = PageRequest::parse(Some(2), None).unwrap();
        let page = Page::from_rows(ids.clone(), &request, |id| *id);
        assert_eq!(page.items, ids[..2]);
        assert_eq!(page.next_cursor, Some(Cursor(ids[1]).encode()));
        let last = Page::from_rows(ids[..2].to_vec(), &request, |id| *id);
        assert_eq!(last.next_cursor, None);
    }
}
