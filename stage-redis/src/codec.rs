//! How a message becomes the bytes of a stream entry, and back.

use core::fmt;

use serde::de::DeserializeOwned;
use serde::Serialize;

/// Turns messages into the bytes of a stream entry and back.
///
/// [`Json`] is the default. Plug in another format by implementing this
/// trait and passing it to the builders' `codec` methods; senders and
/// receivers of one stream must agree on it.
///
/// A message that does not decode is not a crash: the receiver sends its
/// entry to the dead-letter stream, with the error, and goes on.
///
/// # Examples
///
/// A codec for `u64`s as eight little-endian bytes:
///
/// ```
/// use stage::redis::{Codec, CodecError};
///
/// struct LittleEndian;
///
/// impl Codec<u64> for LittleEndian {
///     fn encode(&self, message: &u64) -> Result<Vec<u8>, CodecError> {
///         Ok(message.to_le_bytes().to_vec())
///     }
///
///     fn decode(&self, bytes: &[u8]) -> Result<u64, CodecError> {
///         let bytes = <[u8; 8]>::try_from(bytes)
///             .map_err(|_| CodecError::new(format!("{} bytes, not 8", bytes.len())))?;
///         Ok(u64::from_le_bytes(bytes))
///     }
/// }
///
/// let bytes = LittleEndian.encode(&7).unwrap();
/// assert_eq!(LittleEndian.decode(&bytes).unwrap(), 7);
/// assert!(LittleEndian.decode(b"seven").is_err());
/// ```
pub trait Codec<T>: Send + Sync + 'static {
    /// The bytes that `message` is stored as.
    ///
    /// # Errors
    ///
    /// A [`CodecError`] if the message cannot be encoded; the send then
    /// fails and hands the message back.
    fn encode(&self, message: &T) -> Result<Vec<u8>, CodecError>;

    /// The message stored as `bytes`.
    ///
    /// # Errors
    ///
    /// A [`CodecError`] if the bytes are not a message of this codec; the
    /// entry becomes a dead letter.
    fn decode(&self, bytes: &[u8]) -> Result<T, CodecError>;
}

/// JSON through serde: the default codec.
///
/// Why JSON: an entry can be read with `redis-cli` (`XRANGE orders - +`),
/// a producer or consumer in another language can share the stream, and
/// every serde type works unchanged. Encoding a small message costs a few
/// hundred nanoseconds, far less than the round trip to Redis it travels
/// in; where it matters, plug in a binary [`Codec`].
///
/// # Examples
///
/// ```
/// use stage::redis::{Codec, Json};
///
/// let bytes = Json.encode(&vec![1, 2]).unwrap();
/// assert_eq!(bytes, b"[1,2]");
/// assert_eq!(Codec::<Vec<u32>>::decode(&Json, &bytes).unwrap(), vec![1, 2]);
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Json;

impl<T: Serialize + DeserializeOwned> Codec<T> for Json {
    fn encode(&self, message: &T) -> Result<Vec<u8>, CodecError> {
        serde_json::to_vec(message).map_err(|error| CodecError::new(error.to_string()))
    }

    fn decode(&self, bytes: &[u8]) -> Result<T, CodecError> {
        serde_json::from_slice(bytes).map_err(|error| CodecError::new(error.to_string()))
    }
}

/// A message that could not be encoded, or bytes that are not a message.
///
/// # Examples
///
/// ```
/// use stage::redis::{Codec, Json};
///
/// let error = Codec::<u32>::decode(&Json, b"not json").unwrap_err();
/// assert!(error.to_string().contains("expected"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodecError(String);

impl CodecError {
    /// An error that says `what` went wrong.
    ///
    /// # Examples
    ///
    /// ```
    /// let error = stage::redis::CodecError::new("too short");
    /// assert_eq!(error.to_string(), "too short");
    /// ```
    pub fn new(what: impl Into<String>) -> Self {
        Self(what.into())
    }
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CodecError {}
