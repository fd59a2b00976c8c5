//! Durations in the config, as `"5s"`, `"1h"`, `"250ms"` (humantime): the
//! `deserialize_with` of every duration setting.

use serde::{Deserialize, Deserializer};
use std::time::Duration;
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    humantime::parse_duration(&s).map_err(|e| serde::de::Error::custom(format!("`{s}`: {e}")))
}
