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
