//! The replies of the stream commands, read from `redis::Value`s without
//! a map per entry.

use redis::Value;

/// The field of an entry that holds the message's bytes.
pub(crate) const FIELD: &str = "m";

/// An entry as read: its ID and what it holds.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) id: String,
    pub(crate) body: Body,
}

/// What an entry holds.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Body {
    /// The bytes of its message, in [`FIELD`].
    Message(Vec<u8>),
    /// Fields, but no [`FIELD`]: written by something else than a sender.
    /// Its fields, as they are.
    Foreign(Vec<(Vec<u8>, Vec<u8>)>),
    /// Nothing: deleted from the stream while it was pending.
    Deleted,
}

/// A reply that is not of the shape its command returns.
#[derive(Debug)]
pub(crate) struct Malformed(pub(crate) &'static str);

fn text(value: Value) -> Result<String, Malformed> {
    match value {
        Value::BulkString(bytes) => {
            String::from_utf8(bytes).map_err(|_| Malformed("a non-UTF-8 ID"))
        }
        Value::SimpleString(text) => Ok(text),
        _ => Err(Malformed("an ID that is not a string")),
    }
}

fn int(value: &Value) -> Result<i64, Malformed> {
    match value {
        Value::Int(n) => Ok(*n),
        _ => Err(Malformed("a count that is not an integer")),
    }
}

fn array(value: Value) -> Result<Vec<Value>, Malformed> {
    match value {
        Value::Array(items) | Value::Set(items) => Ok(items),
        Value::Nil => Ok(Vec::new()),
        _ => Err(Malformed("a list expected")),
    }
}

/// One entry: `[id, [field, value, ...]]` (the fields nil once deleted).
fn entry(value: Value) -> Result<Entry, Malformed> {
    let mut parts = array(value)?.into_iter();
    let id = text(parts.next().ok_or(Malformed("an entry without an ID"))?)?;
    let fields = parts.next().unwrap_or(Value::Nil);
    if fields == Value::Nil {
        return Ok(Entry {
            id,
            body: Body::Deleted,
        });
    }
    let mut found = Vec::new();
    let mut fields = array(fields)?.into_iter();
    while let (Some(name), Some(value)) = (fields.next(), fields.next()) {
        let (Value::BulkString(name), Value::BulkString(value)) = (name, value) else {
            return Err(Malformed("a field that is not a string"));
        };
        if name == FIELD.as_bytes() {
            return Ok(Entry {
                id,
                body: Body::Message(value),
            });
        }
        found.push((name, value));
    }
    Ok(Entry {
        id,
        body: Body::Foreign(found),
    })
}

/// A list of entries (`XCLAIM`, and each stream of `XREADGROUP`).
pub(crate) fn entries(value: Value) -> Result<Vec<Entry>, Malformed> {
    array(value)?.into_iter().map(entry).collect()
}

/// `XREADGROUP` of one stream: nil when nothing came, else
/// `[[key, entries]]` (a map of key to entries under RESP3).
pub(crate) fn read(value: Value) -> Result<Vec<Entry>, Malformed> {
    let streams = match value {
        Value::Nil => return Ok(Vec::new()),
        Value::Map(pairs) => {
            return pairs
                .into_iter()
                .next()
                .map_or(Ok(Vec::new()), |(_, v)| entries(v))
        }
        other => array(other)?,
    };
    let Some(stream) = streams.into_iter().next() else {
        return Ok(Vec::new());
    };
    let mut parts = array(stream)?.into_iter();
    let _key = parts.next();
    entries(parts.next().unwrap_or(Value::Nil))
}

/// `XAUTOCLAIM`: `[next cursor, entries, deleted IDs]`.
pub(crate) fn autoclaim(value: Value) -> Result<(String, Vec<Entry>), Malformed> {
    let mut parts = array(value)?.into_iter();
    let cursor = text(
        parts
            .next()
            .ok_or(Malformed("an XAUTOCLAIM reply without a cursor"))?,
    )?;
    let claimed = entries(parts.next().unwrap_or(Value::Nil))?;
    Ok((cursor, claimed))
}

/// The extended form of `XPENDING`: `[[id, consumer, idle ms, deliveries]]`,
/// as the IDs and their deliveries.
pub(crate) fn pending(value: Value) -> Result<Vec<(String, u32)>, Malformed> {
    array(value)?
        .into_iter()
        .map(|item| {
            let mut parts = array(item)?.into_iter();
            let id = text(
                parts
                    .next()
                    .ok_or(Malformed("a pending entry without an ID"))?,
            )?;
            let deliveries = parts
                .nth(2)
                .ok_or(Malformed("a pending entry without a count"))?;
            let deliveries = u32::try_from(int(&deliveries)?).unwrap_or(u32::MAX);
            Ok((id, deliveries))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use redis::Value;

    use super::Body;

    fn bulk(text: &str) -> Value {
        Value::BulkString(text.as_bytes().to_vec())
    }

    fn an_entry(id: &str, fields: &[(&str, &str)]) -> Value {
        let fields = fields
            .iter()
            .flat_map(|(k, v)| [bulk(k), bulk(v)])
            .collect();
        Value::Array(vec![bulk(id), Value::Array(fields)])
    }

    #[test]
    fn a_read_finds_each_entrys_message_among_its_fields() {
        let reply = Value::Array(vec![Value::Array(vec![
            bulk("orders"),
            Value::Array(vec![
                an_entry("1-0", &[("m", "7")]),
                an_entry("2-0", &[("other", "x"), ("m", "8")]),
                an_entry("3-0", &[("other", "x")]),
                Value::Array(vec![bulk("4-0"), Value::Nil]), // deleted
            ]),
        ])]);
        let read = super::read(reply).unwrap();
        let found: Vec<_> = read.iter().map(|e| (e.id.as_str(), &e.body)).collect();
        assert_eq!(
            found,
            [
                ("1-0", &Body::Message(b"7".to_vec())),
                ("2-0", &Body::Message(b"8".to_vec())),
                (
                    "3-0",
                    &Body::Foreign(vec![(b"other".to_vec(), b"x".to_vec())])
                ),
                ("4-0", &Body::Deleted)
            ]
        );
        assert!(super::read(Value::Nil).unwrap().is_empty());
    }

    #[test]
    fn pending_entries_give_their_delivery_counts() {
        let reply = Value::Array(vec![Value::Array(vec![
            bulk("1-0"),
            bulk("worker-1"),
            Value::Int(1500),
            Value::Int(3),
        ])]);
        assert_eq!(super::pending(reply).unwrap(), [("1-0".to_owned(), 3)]);
        assert!(super::pending(Value::Int(3)).is_err());
    }

    #[test]
    fn an_autoclaim_gives_its_cursor_and_entries() {
        let reply = Value::Array(vec![
            bulk("0-0"),
            Value::Array(vec![an_entry("5-1", &[("m", "x")])]),
            Value::Array(vec![]),
        ]);
        let (cursor, entries) = super::autoclaim(reply).unwrap();
        assert_eq!(cursor, "0-0");
        assert_eq!(entries[0].id, "5-1");
    }
}
