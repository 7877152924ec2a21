//! A small `--name value` option parser: enough for the subcommands, no dependency.

use anyhow::{Result, anyhow, bail};
use std::collections::HashMap;

pub struct Options {
    values: HashMap<String, String>,
}

impl Options {
    pub fn parse(args: &[String]) -> Result<Options> {
        let mut values = HashMap::new();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let Some(name) = a.strip_prefix("--") else {
                bail!("unexpected argument {a:?}")
            };
            let (name, value) = match name.split_once('=') {
                Some((n, v)) => (n.to_string(), v.to_string()),
                None => (
                    name.to_string(),
                    it.next()
                        .ok_or_else(|| anyhow!("--{name} needs a value"))?
                        .clone(),
                ),
            };
            values.insert(name, value);
        }
        Ok(Options { values })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    pub fn require(&self, name: &str) -> Result<String> {
        self.get(name)
            .map(str::to_string)
            .ok_or_else(|| anyhow!("--{name} is required"))
    }
}

/// A size in bytes: a number with an optional binary unit (`k`/`KiB`/`kB`, `M`/`MiB`/`MB`,
/// `G`/`GiB`/`GB`, each 1024 times the one before), e.g. `10GiB`, `512kB`, `8192`.
pub fn parse_size(s: &str) -> Result<u64> {
    let s = s.trim();
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(digits);
    let n: u64 = n.parse().map_err(|_| anyhow!("{s:?} is not a size"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        other => bail!("unknown size unit {other:?} in {s:?}"),
    };
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| anyhow!("{s:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size("8192").unwrap(), 8192);
        assert_eq!(parse_size("512kB").unwrap(), 512 << 10);
        assert_eq!(parse_size("10GiB").unwrap(), 10 << 30);
        assert_eq!(parse_size("1M").unwrap(), 1 << 20);
        assert!(parse_size("10 parsecs").is_err());
        assert!(parse_size("GiB").is_err());
        assert!(parse_size("99999999999T").is_err());
    }
}
