//! An actor's name: kept inline by its builder while it is short (most
//! are), then, once the actor is made, one allocation that holds its path
//! (`system/name`) and its name, the path's last part.

use core::borrow::Borrow;
use core::fmt;
use core::hash::{Hash, Hasher};
use core::ops::Deref;

use crate::sync::Arc;

/// The longest name a builder keeps inline.
const INLINE: usize = 30;

/// A name as a builder keeps it, before the actor is made.
pub(crate) enum Draft {
    Short { len: u8, bytes: [u8; INLINE] },
    Long(Box<str>),
}

impl Draft {
    pub(crate) fn new(name: &str) -> Self {
        let mut bytes = [0; INLINE];
        match bytes.get_mut(..name.len()) {
            Some(start) => {
                start.copy_from_slice(name.as_bytes());
                Self::Short {
                    len: name.len() as u8, // at most INLINE
                    bytes,
                }
            }
            None => Self::Long(name.into()),
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        match self {
            Self::Short { len, bytes } => {
                core::str::from_utf8(&bytes[..usize::from(*len)]).expect("copied whole from a str")
            }
            Self::Long(name) => name,
        }
    }
}

/// An actor's name within its path: `system/name` for an actor a system
/// spawned, the bare name for a tree's child (whose tree knows its path).
/// Cloning it clones one `Arc`. It hashes and compares as its name.
#[derive(Clone)]
pub(crate) struct Name {
    path: Arc<str>,
    /// Where the name starts in the path.
    at: usize,
}

impl Name {
    /// `name` under `parent`, in one allocation (a short path is joined on
    /// the stack first).
    pub(crate) fn new(parent: Option<&str>, name: &str) -> Self {
        let Some(parent) = parent else {
            return Self {
                path: Arc::from(name),
                at: 0,
            };
        };
        let at = parent.len() + 1;
        let mut short = [0u8; 96];
        let path = match short.get_mut(..at + name.len()) {
            Some(buf) => {
                buf[..parent.len()].copy_from_slice(parent.as_bytes());
                buf[parent.len()] = b'/';
                buf[at..].copy_from_slice(name.as_bytes());
                Arc::from(core::str::from_utf8(buf).expect("joined from two strs and a '/'"))
            }
            None => Arc::from(format!("{parent}/{name}")),
        };
        Self { path, at }
    }

    /// The whole path.
    pub(crate) fn path(&self) -> &Arc<str> {
        &self.path
    }
}

impl Deref for Name {
    type Target = str;

    fn deref(&self) -> &str {
        &self.path[self.at..]
    }
}

impl Borrow<str> for Name {
    fn borrow(&self) -> &str {
        self
    }
}

impl Hash for Name {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (**self).hash(state);
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for Name {}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::{Draft, Name};

    #[test]
    fn a_name_is_the_last_part_of_its_path() {
        let name = Name::new(Some("system"), "a");
        assert_eq!((&**name.path(), &*name), ("system/a", "a"));
        let accented = Name::new(Some("sÿstème"), "é");
        assert_eq!((&**accented.path(), &*accented), ("sÿstème/é", "é"));
        let long = "x".repeat(200);
        let joined = Name::new(Some("system"), &long);
        assert_eq!(&**joined.path(), format!("system/{long}"));
        assert_eq!(&*joined, long);
        let bare = Name::new(None, "db");
        assert_eq!((&**bare.path(), &*bare), ("db", "db"));
    }

    #[test]
    fn a_name_is_found_by_its_str_whatever_its_path() {
        let mut names = HashMap::new();
        names.insert(Name::new(Some("system"), "db"), 1);
        assert_eq!(names.get("db"), Some(&1));
        assert!(names.contains_key(&Name::new(None, "db")));
        assert_eq!(names.get("system/db"), None);
    }

    #[test]
    fn a_draft_keeps_short_and_long_names_whole() {
        for name in ["", "a", "é".repeat(15).as_str(), "x".repeat(31).as_str()] {
            assert_eq!(Draft::new(name).as_str(), name);
        }
        assert!(matches!(Draft::new(&"x".repeat(30)), Draft::Short { .. }));
        assert!(matches!(Draft::new(&"x".repeat(31)), Draft::Long(_)));
    }
}
