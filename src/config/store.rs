//! The live values of every parameter, validated on the way in, in the form CONFIG GET prints.

use super::memsize::parse_memory;
use super::params::{find, Kind, Param, PARAMS};
use std::collections::BTreeMap;

#[derive(Clone, Debug)]
pub struct ConfigStore {
    values: BTreeMap<&'static str, String>,
    /// The `--flagfile` the process started with (CONFIG REWRITE's target, INFO config_file).
    pub flagfile: Option<String>,
}

/// Turns user text into the stored form of `param`, or says why it is not valid.
pub fn normalize(param: &Param, raw: &str) -> Result<String, String> {
    let value = strip_quotes(raw);
    match param.kind {
        Kind::Int { min, max } => match value.parse::<i64>() {
            Ok(n) if n >= min && n <= max => Ok(n.to_string()),
            Ok(_) => Err(format!("argument must be between {min} and {max} inclusive")),
            Err(_) => Err("argument couldn't be parsed into an integer".into()),
        },
        Kind::Memory => {
            parse_memory(value).map(|n| n.to_string()).ok_or_else(|| "argument must be a memory value".into())
        }
        Kind::Bool => match value.to_ascii_lowercase().as_str() {
            "yes" | "true" | "1" | "" => Ok("yes".into()),
            "no" | "false" | "0" => Ok("no".into()),
            _ => Err("argument must be 'yes' or 'no'".into()),
        },
        Kind::Enum(words) => {
            let lower = value.to_ascii_lowercase();
            if words.contains(&lower.as_str()) {
                Ok(lower)
            } else {
                Err("argument(s) must be one of the following: ".to_string() + &words.join(", "))
            }
        }
        Kind::Str => Ok(value.to_string()),
        Kind::SavePoints => crate::storage::schedule::parse_save_points(value)
            .map(|p| p.iter().map(|(s, c)| format!("{s} {c}")).collect::<Vec<_>>().join(" ")),
        Kind::Cron if value.is_empty() => Ok(String::new()),
        Kind::Cron => crate::storage::schedule::Cron::parse(value).map(|_| value.to_string()),
    }
}

/// Kubernetes passes `--flag="a b"` without a shell, so the quotes arrive literally.
pub fn strip_quotes(v: &str) -> &str {
    for q in ['"', '\''] {
        if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) {
            return &v[1..v.len() - 1];
        }
    }
    v
}

impl ConfigStore {
    pub fn defaults() -> ConfigStore {
        let values = PARAMS.iter().map(|p| (p.name, p.default.to_string())).collect::<BTreeMap<_, _>>();
        let mut s = ConfigStore { values, flagfile: None };
        // Defaults go through the same normalization as user values (e.g. `512mb` → bytes).
        for p in PARAMS {
            let v = normalize(p, p.default).expect("every default is valid");
            s.values.insert(p.name, v);
        }
        s
    }

    /// Sets a parameter by any of its names. `at_startup` allows immutable parameters.
    pub fn set(&mut self, name: &str, raw: &str, at_startup: bool) -> Result<(), String> {
        let param = find(&name.to_ascii_lowercase())
            .ok_or_else(|| format!("Unknown option or number of arguments for CONFIG SET - '{name}'"))?;
        if !param.mutable && !at_startup {
            return Err(format!("can't set immutable config '{}'", param.name));
        }
        let v = normalize(param, raw)
            .map_err(|why| format!("Invalid argument '{raw}' for CONFIG SET '{}' - {why}", param.name))?;
        self.values.insert(param.name, v);
        Ok(())
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        let param = find(name)?;
        self.values.get(param.name).map(|s| s.as_str())
    }

    pub fn get_str(&self, name: &str) -> &str {
        self.get(name).unwrap_or_else(|| panic!("unknown parameter {name}"))
    }

    pub fn get_int(&self, name: &str) -> i64 {
        self.get_str(name).parse().unwrap_or(0)
    }

    pub fn get_bool(&self, name: &str) -> bool {
        self.get_str(name) == "yes"
    }

    /// Every (name, value), for CONFIG GET with patterns.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.values.iter().map(|(k, v)| (*k, v.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_and_normalizes() {
        let mut s = ConfigStore::defaults();
        assert_eq!(s.get("proto-max-bulk-len"), Some("536870912"));
        s.set("maxmemory", "400mb", false).unwrap();
        assert_eq!(s.get_int("maxmemory"), 400 << 20);
        s.set("maxmemory-policy", "\"allkeys-lru\"", false).unwrap();
        assert_eq!(s.get("maxmemory-policy"), Some("allkeys-lru"));
        assert!(s.set("maxmemory-policy", "bogus", false).is_err());
        assert!(s.set("port", "7000", false).is_err());
        assert!(s.set("port", "7000", true).is_ok());
        assert!(s.set("nosuch", "1", true).is_err());
        assert_eq!(s.get("dbnum"), Some("16"));
    }
}
