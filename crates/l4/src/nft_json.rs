//! Reading nft's JSON (`nft -j list ...`): per-element counters and map entries.

use serde_json::Value;

/// The text of an nft JSON value as it would be written in a script.
fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Object(o) => {
            if let Some(parts) = o.get("concat").and_then(Value::as_array) {
                let parts: Option<Vec<String>> = parts.iter().map(text).collect();
                return parts.map(|p| p.join(" . "));
            }
            o.get("elem").and_then(|e| e.get("val")).and_then(text)
        }
        _ => None,
    }
}

/// A set element's text with its packets and bytes.
pub(crate) type Counted = (String, u64, u64);

/// From `nft -j list sets`: per set name, its elements with packets and bytes.
pub(crate) fn named_sets(json: &Value) -> Vec<(String, Vec<Counted>)> {
    let objects = json.get("nftables").and_then(Value::as_array);
    objects
        .into_iter()
        .flatten()
        .filter_map(|o| o.get("set"))
        .filter_map(|set| {
            let name = set.get("name")?.as_str()?.to_owned();
            let elements = set
                .get("elem")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|e| {
                    let inner = e.get("elem")?;
                    let counter = inner.get("counter")?;
                    Some((
                        text(inner.get("val")?)?,
                        counter.get("packets")?.as_u64()?,
                        counter.get("bytes")?.as_u64()?,
                    ))
                })
                .collect();
            Some((name, elements))
        })
        .collect()
}

/// From `nft -j list map`: its (key, value) entries as script text.
pub(crate) fn map_entries(json: &Value) -> Vec<(String, String)> {
    let objects = json.get("nftables").and_then(Value::as_array);
    objects
        .into_iter()
        .flatten()
        .filter_map(|o| o.get("map"))
        .filter_map(|m| m.get("elem").and_then(Value::as_array))
        .flatten()
        .filter_map(|pair| {
            let pair = pair.as_array()?;
            Some((text(pair.first()?)?, text(pair.get(1)?)?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_counters_and_entries_from_nft_json() {
        let sets: Value = serde_json::from_str(
            r#"{"nftables": [{"metainfo": {"version": "1.0.6"}}, {"set": {"family": "inet",
            "name": "s0_traffic", "table": "bt", "type": ["ipv4_addr", "inet_service"],
            "elem": [{"elem": {"val": {"concat": ["10.0.3.11", 8080]},
            "counter": {"packets": 3, "bytes": 180}}}]}}]}"#,
        )
        .expect("json");
        assert_eq!(
            named_sets(&sets),
            vec![(
                "s0_traffic".to_owned(),
                vec![("10.0.3.11 . 8080".to_owned(), 3, 180)]
            )]
        );
        let map: Value = serde_json::from_str(
            r#"{"nftables": [{"map": {"name": "p", "elem": [[{"elem": {"val": "10.0.3.0",
            "timeout": 30, "expires": 29}}, {"concat": ["10.0.3.12", 8080]}],
            ["10.0.4.0", "10.0.3.11"]]}}]}"#,
        )
        .expect("json");
        assert_eq!(
            map_entries(&map),
            vec![
                ("10.0.3.0".to_owned(), "10.0.3.12 . 8080".to_owned()),
                ("10.0.4.0".to_owned(), "10.0.3.11".to_owned())
            ]
        );
    }
}
