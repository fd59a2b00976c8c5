//! `oktawatch:detection/event`: the event lent to the guest as the
//! `okta-event` resource. The guest asks for fields by path (bounded in
//! length and in number per call); the JSON is copied whole only when it
//! calls `to-json`.

use super::{HostCtx, check_key};
use crate::event::Event;
use crate::event::{JsonContainerTrait, JsonType, JsonValueTrait, Value as Json};
use crate::runtime::bindings::oktawatch::detection::{event, types};
use std::sync::Arc;
use wasmtime::component::Resource;

/// The host's event, as the guest's `okta-event` resource.
pub struct EventRef(pub Arc<Event>);

/// Paths asked for in one call.
const MAX_PATHS: usize = 256;

fn check_many(paths: &[String]) -> wasmtime::Result<()> {
    if paths.len() > MAX_PATHS {
        wasmtime::bail!("{} paths in one call: at most {MAX_PATHS}", paths.len());
    }
    paths.iter().try_for_each(|p| check_key(p))
}

/// A JSON value as the contract's `value`.
pub fn to_value(v: &Json) -> types::Value {
    match v.get_type() {
        JsonType::Null => types::Value::Null,
        JsonType::Boolean => types::Value::Boolean(v.is_true()),
        JsonType::Number => match v.as_i64() {
            Some(i) => types::Value::Integer(i),
            None => types::Value::Float(v.as_f64().unwrap_or(f64::NAN)),
        },
        JsonType::String => types::Value::Text(v.as_str().unwrap_or_default().to_string()),
        JsonType::Object | JsonType::Array => types::Value::Json(sonic_rs::to_string(v).unwrap_or_default()),
    }
}

impl HostCtx {
    fn event(&self, r: &Resource<EventRef>) -> wasmtime::Result<&Arc<Event>> {
        Ok(&self.table.get(r)?.0)
    }
}

impl event::Host for HostCtx {}

impl event::HostOktaEvent for HostCtx {
    fn event_type(&mut self, r: Resource<EventRef>) -> wasmtime::Result<String> {
        Ok(self.event(&r)?.event_type().to_string())
    }
    fn uuid(&mut self, r: Resource<EventRef>) -> wasmtime::Result<String> {
        Ok(self.event(&r)?.key().to_string())
    }
    fn published_ms(&mut self, r: Resource<EventRef>) -> wasmtime::Result<i64> {
        Ok(self.event(&r)?.published_ms().unwrap_or(self.now_ms))
    }
    fn get(&mut self, r: Resource<EventRef>, path: String) -> wasmtime::Result<Option<types::Value>> {
        check_key(&path)?;
        Ok(self.event(&r)?.lookup(&path).map(to_value))
    }
    fn get_str(&mut self, r: Resource<EventRef>, path: String) -> wasmtime::Result<Option<String>> {
        check_key(&path)?;
        Ok(self.event(&r)?.lookup(&path).and_then(|v| v.as_str()).map(str::to_string))
    }
    fn len(&mut self, r: Resource<EventRef>, path: String) -> wasmtime::Result<Option<u32>> {
        check_key(&path)?;
        Ok(self.event(&r)?.lookup(&path).and_then(|v: &Json| {
            v.as_array().map(|a| a.len() as u32).or_else(|| v.as_object().map(|o| o.len() as u32))
        }))
    }
    fn get_many(&mut self, r: Resource<EventRef>, paths: Vec<String>) -> wasmtime::Result<Vec<Option<types::Value>>> {
        check_many(&paths)?;
        let ev = self.event(&r)?;
        Ok(paths.iter().map(|p| ev.lookup(p).map(to_value)).collect())
    }
    fn get_strs(&mut self, r: Resource<EventRef>, paths: Vec<String>) -> wasmtime::Result<Vec<Option<String>>> {
        check_many(&paths)?;
        let ev = self.event(&r)?;
        Ok(paths.iter().map(|p| ev.lookup(p).and_then(|v| v.as_str()).map(str::to_string)).collect())
    }
    fn to_json(&mut self, r: Resource<EventRef>) -> wasmtime::Result<String> {
        Ok(self.event(&r)?.raw().to_string())
    }
    fn drop(&mut self, r: Resource<EventRef>) -> wasmtime::Result<()> {
        self.table.delete(r)?;
        Ok(())
    }
}
