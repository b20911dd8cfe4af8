//! QMP types: the small type language the command table is written in, argument
//! checking with QEMU's error texts, introspection (`query-qmp-schema` in QEMU's
//! SchemaInfo format) and the generated reference (docs/qmp.md).
//!
//! Every command and event is declared once, in [`super::commands::COMMANDS`] and
//! [`super::commands::EVENTS`]; everything here is derived from those tables.

use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// A QAPI type.
#[derive(Clone, Copy, Debug)]
pub enum Ty {
    Str,
    /// A signed 64-bit integer (`int`).
    Int,
    /// An unsigned 64-bit integer (`uint64`, shown as `int` in the schema).
    Uint64,
    Bool,
    Number,
    Any,
    Enum(&'static EnumTy),
    Object(&'static ObjTy),
    Array(&'static Ty),
}

/// A QAPI enum.
#[derive(Debug)]
pub struct EnumTy {
    pub name: &'static str,
    pub values: &'static [&'static str],
}

/// A member of an object type or of a command's or event's arguments.
#[derive(Debug)]
pub struct Member {
    pub name: &'static str,
    pub ty: Ty,
    pub optional: bool,
    pub doc: &'static str,
}

/// A QAPI struct (optionally a flat union: `tag` names the enum member that selects
/// one of `variants`).
#[derive(Debug)]
pub struct ObjTy {
    pub name: &'static str,
    pub members: &'static [Member],
    pub tag: Option<&'static str>,
    pub variants: &'static [(&'static str, &'static ObjTy)],
}

/// A required member.
pub const fn req(name: &'static str, ty: Ty, doc: &'static str) -> Member {
    Member {
        name,
        ty,
        optional: false,
        doc,
    }
}

/// An optional member.
pub const fn opt(name: &'static str, ty: Ty, doc: &'static str) -> Member {
    Member {
        name,
        ty,
        optional: true,
        doc,
    }
}

/// A struct type without variants.
pub const fn object(name: &'static str, members: &'static [Member]) -> ObjTy {
    ObjTy {
        name,
        members,
        tag: None,
        variants: &[],
    }
}

impl Ty {
    /// The word QEMU uses in "Invalid parameter type for 'X', expected: WORD".
    fn expected(self) -> &'static str {
        match self {
            Ty::Str | Ty::Enum(_) => "string",
            Ty::Int | Ty::Uint64 => "integer",
            Ty::Bool => "boolean",
            Ty::Number => "number",
            Ty::Any => "any",
            Ty::Object(_) => "object",
            Ty::Array(_) => "array",
        }
    }

    /// The type as written in the docs.
    pub fn doc_name(self) -> String {
        match self {
            Ty::Str => "str".into(),
            Ty::Int => "int".into(),
            Ty::Uint64 => "uint64".into(),
            Ty::Bool => "bool".into(),
            Ty::Number => "number".into(),
            Ty::Any => "any".into(),
            Ty::Enum(e) => e.name.into(),
            Ty::Object(o) => o.name.into(),
            Ty::Array(t) => format!("[{}]", t.doc_name()),
        }
    }
}

/// Checks `args` against `members` the way QEMU's input visitor does: members in
/// declaration order (missing, then type), then anything left over is unexpected.
pub fn check_args(members: &[Member], args: &Map<String, Value>) -> Result<(), String> {
    let members: Vec<&Member> = members.iter().collect();
    check_members(&members, args, "")
}

fn path(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

fn check_members(
    members: &[&Member],
    obj: &Map<String, Value>,
    prefix: &str,
) -> Result<(), String> {
    for m in members {
        let p = path(prefix, m.name);
        match obj.get(m.name) {
            None if m.optional => {}
            None => return Err(format!("Parameter '{p}' is missing")),
            Some(v) => check_value(m.ty, v, &p)?,
        }
    }
    for k in obj.keys() {
        if !members.iter().any(|m| m.name == k) {
            return Err(format!("Parameter '{}' is unexpected", path(prefix, k)));
        }
    }
    Ok(())
}

fn check_value(ty: Ty, v: &Value, p: &str) -> Result<(), String> {
    let wrong = || {
        format!(
            "Invalid parameter type for '{p}', expected: {}",
            ty.expected()
        )
    };
    match ty {
        Ty::Any => Ok(()),
        Ty::Str => v.as_str().map(|_| ()).ok_or_else(wrong),
        Ty::Bool => v.as_bool().map(|_| ()).ok_or_else(wrong),
        Ty::Number => v.as_f64().map(|_| ()).ok_or_else(wrong),
        Ty::Int => match v {
            Value::Number(n) if n.is_i64() => Ok(()),
            Value::Number(n) if n.is_u64() => Err(format!("Parameter '{p}' expects int64")),
            _ => Err(wrong()),
        },
        Ty::Uint64 => match v {
            Value::Number(n) if n.is_u64() => Ok(()),
            Value::Number(n) if n.is_i64() => Err(format!("Parameter '{p}' expects uint64")),
            _ => Err(wrong()),
        },
        Ty::Enum(e) => {
            let s = v.as_str().ok_or_else(wrong)?;
            if e.values.contains(&s) {
                Ok(())
            } else {
                Err(format!("Parameter '{p}' does not accept value '{s}'"))
            }
        }
        Ty::Object(o) => {
            let obj = v.as_object().ok_or_else(wrong)?;
            let mut members: Vec<&Member> = o.members.iter().collect();
            if let Some(tag) = o.tag {
                if let Some(case) = obj.get(tag).and_then(|t| t.as_str()) {
                    if let Some((_, var)) = o.variants.iter().find(|(c, _)| *c == case) {
                        members.extend(var.members.iter());
                    }
                }
            }
            check_members(&members, obj, p)
        }
        Ty::Array(t) => {
            let a = v.as_array().ok_or_else(wrong)?;
            for (i, x) in a.iter().enumerate() {
                check_value(*t, x, &format!("{p}[{i}]"))?;
            }
            Ok(())
        }
    }
}

/// What the schema needs to know about a command.
pub struct CommandInfo<'a> {
    pub name: &'a str,
    pub args: &'a [Member],
    pub ret: Option<Ty>,
    pub preconfig: bool,
    pub doc: &'a str,
}

/// What the schema needs to know about an event.
pub struct EventInfo<'a> {
    pub name: &'a str,
    pub data: &'a [Member],
    pub doc: &'a str,
}

/// Builds `query-qmp-schema`'s answer. Type names other than the builtins are masked
/// as decimal numbers in order of first use, as QEMU does; commands and events keep
/// their names.
pub fn introspect(commands: &[CommandInfo<'_>], events: &[EventInfo<'_>]) -> Value {
    let mut s = Schema::default();
    let mut entities = Vec::new();
    for c in commands {
        let arg = s.implicit(&format!("cmd:{}", c.name), c.args);
        let ret = match c.ret {
            None => s.implicit("", &[]),
            Some(t) => s.name_of(t),
        };
        // QEMU's SchemaInfoCommand has no allow-preconfig member; the docs show it.
        entities.push(
            json!({"name": c.name, "meta-type": "command", "arg-type": arg, "ret-type": ret}),
        );
    }
    for ev in events {
        let arg = s.implicit(&format!("ev:{}", ev.name), ev.data);
        entities.push(json!({"name": ev.name, "meta-type": "event", "arg-type": arg}));
    }
    entities.extend(s.types);
    for (b, j) in [
        ("str", "string"),
        ("any", "value"),
        ("bool", "boolean"),
        ("int", "int"),
        ("null", "null"),
        ("number", "number"),
    ] {
        if s.builtins_used.contains(&b) {
            entities.push(json!({"name": b, "meta-type": "builtin", "json-type": j}));
        }
    }
    Value::Array(entities)
}

#[derive(Default)]
struct Schema {
    names: HashMap<String, String>,
    types: Vec<Value>,
    next: usize,
    builtins_used: Vec<&'static str>,
}

impl Schema {
    fn builtin(&mut self, b: &'static str) -> String {
        if !self.builtins_used.contains(&b) {
            self.builtins_used.push(b);
        }
        b.to_string()
    }

    fn fresh(&mut self, key: String) -> (String, bool) {
        if let Some(n) = self.names.get(&key) {
            return (n.clone(), false);
        }
        let n = self.next.to_string();
        self.next += 1;
        self.names.insert(key, n.clone());
        (n, true)
    }

    /// The name of an implicit (anonymous) object type with these members; all empty
    /// ones share one name.
    fn implicit(&mut self, key: &str, members: &[Member]) -> String {
        let key = if members.is_empty() {
            "obj:".to_string()
        } else {
            format!("imp:{key}")
        };
        let (name, new) = self.fresh(key);
        if new {
            let at = self.types.len();
            self.types.push(Value::Null);
            let ms = self.members(members);
            self.types[at] = json!({"name": name, "meta-type": "object", "members": ms});
        }
        name
    }

    fn members(&mut self, members: &[Member]) -> Vec<Value> {
        members
            .iter()
            .map(|m| {
                let t = self.name_of(m.ty);
                let mut v = json!({"name": m.name, "type": t});
                if m.optional {
                    v["default"] = Value::Null;
                }
                v
            })
            .collect()
    }

    fn name_of(&mut self, ty: Ty) -> String {
        match ty {
            Ty::Str => self.builtin("str"),
            Ty::Int | Ty::Uint64 => self.builtin("int"),
            Ty::Bool => self.builtin("bool"),
            Ty::Number => self.builtin("number"),
            Ty::Any => self.builtin("any"),
            Ty::Array(t) => {
                let elem = self.name_of(*t);
                let name = format!("[{elem}]");
                if let std::collections::hash_map::Entry::Vacant(v) =
                    self.names.entry(format!("arr:{name}"))
                {
                    v.insert(name.clone());
                    self.types
                        .push(json!({"name": name, "meta-type": "array", "element-type": elem}));
                }
                name
            }
            Ty::Enum(e) => {
                let (name, new) = self.fresh(format!("enum:{}", e.name));
                if new {
                    let members: Vec<Value> = e.values.iter().map(|v| json!({"name": v})).collect();
                    self.types.push(json!({"name": name, "meta-type": "enum",
                        "members": members, "values": e.values}));
                }
                name
            }
            Ty::Object(o) => {
                let (name, new) = self.fresh(format!("obj:{}", o.name));
                if new {
                    let at = self.types.len();
                    self.types.push(Value::Null);
                    let ms = self.members(o.members);
                    let mut v = json!({"name": name, "meta-type": "object", "members": ms});
                    if let Some(tag) = o.tag {
                        v["tag"] = json!(tag);
                        let vars: Vec<Value> = o
                            .variants
                            .iter()
                            .map(|(case, t)| json!({"case": case, "type": self.name_of(Ty::Object(t))}))
                            .collect();
                        v["variants"] = Value::Array(vars);
                    }
                    self.types[at] = v;
                }
                name
            }
        }
    }
}

/// The QMP reference in Markdown (docs/qmp.md is this text).
pub fn markdown(commands: &[CommandInfo<'_>], events: &[EventInfo<'_>], intro: &str) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    out.push_str(intro);
    let mut types: Vec<Ty> = Vec::new();
    let _ = writeln!(out, "\n## Commands\n");
    for c in commands {
        let _ = writeln!(out, "### `{}`\n", c.name);
        let _ = writeln!(out, "{}\n", c.doc);
        if c.preconfig {
            let _ = writeln!(out, "Allowed in `--preconfig` state.\n");
        }
        member_table(&mut out, c.args, &mut types, "Arguments");
        match c.ret {
            None => out.push_str("Returns: `{}`\n\n"),
            Some(t) => {
                collect(t, &mut types);
                let _ = writeln!(out, "Returns: `{}`\n", t.doc_name());
            }
        }
    }
    let _ = writeln!(out, "## Events\n");
    for e in events {
        let _ = writeln!(out, "### `{}`\n", e.name);
        let _ = writeln!(out, "{}\n", e.doc);
        member_table(&mut out, e.data, &mut types, "Data");
    }
    let _ = writeln!(out, "## Types\n");
    let mut i = 0;
    while i < types.len() {
        let t = types[i];
        i += 1;
        match t {
            Ty::Enum(e) => {
                let vals: Vec<String> = e.values.iter().map(|v| format!("`{v}`")).collect();
                let _ = writeln!(out, "### `{}` (enum)\n\n{}\n", e.name, vals.join(", "));
            }
            Ty::Object(o) => {
                let _ = writeln!(out, "### `{}` (object)\n", o.name);
                member_table(&mut out, o.members, &mut types, "Members");
                if let Some(tag) = o.tag {
                    for (case, v) in o.variants {
                        let _ = writeln!(out, "When `{tag}` is `{case}`, also `{}`.\n", v.name);
                        collect(Ty::Object(v), &mut types);
                    }
                }
            }
            _ => {}
        }
    }
    out
}

fn collect(t: Ty, types: &mut Vec<Ty>) {
    match t {
        Ty::Array(e) => collect(*e, types),
        Ty::Enum(e)
            if !types
                .iter()
                .any(|x| matches!(x, Ty::Enum(y) if y.name == e.name)) =>
        {
            types.push(t)
        }
        Ty::Object(o)
            if !types
                .iter()
                .any(|x| matches!(x, Ty::Object(y) if y.name == o.name)) =>
        {
            types.push(t)
        }
        _ => {}
    }
}

fn member_table(out: &mut String, members: &[Member], types: &mut Vec<Ty>, title: &str) {
    use std::fmt::Write;
    if members.is_empty() {
        return;
    }
    let _ = writeln!(out, "{title}:\n\n| name | type | |\n|---|---|---|");
    for m in members {
        collect(m.ty, types);
        let _ = writeln!(
            out,
            "| `{}`{} | `{}` | {} |",
            m.name,
            if m.optional { " (optional)" } else { "" },
            m.ty.doc_name(),
            m.doc
        );
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    static COLOR: EnumTy = EnumTy {
        name: "Color",
        values: &["red", "blue"],
    };
    static INNER: ObjTy = object("Inner", &[req("n", Ty::Int, "")]);
    static INNER_TY: Ty = Ty::Object(&INNER);
    static ARGS: &[Member] = &[
        req("a", Ty::Int, ""),
        opt("c", Ty::Enum(&COLOR), ""),
        opt("u", Ty::Uint64, ""),
        opt("l", Ty::Array(&Ty::Object(&INNER)), ""),
    ];

    fn check(v: Value) -> Result<(), String> {
        check_args(ARGS, v.as_object().unwrap())
    }

    #[test]
    fn argument_errors() {
        assert_eq!(check(json!({"a": 1})), Ok(()));
        assert_eq!(check(json!({})), Err("Parameter 'a' is missing".into()));
        assert_eq!(
            check(json!({"a": "x"})),
            Err("Invalid parameter type for 'a', expected: integer".into())
        );
        assert_eq!(
            check(json!({"a": 1.5})),
            Err("Invalid parameter type for 'a', expected: integer".into())
        );
        assert_eq!(
            check(json!({"a": u64::MAX})),
            Err("Parameter 'a' expects int64".into())
        );
        assert_eq!(
            check(json!({"a": 1, "u": -1})),
            Err("Parameter 'u' expects uint64".into())
        );
        assert_eq!(
            check(json!({"a": 1, "c": "green"})),
            Err("Parameter 'c' does not accept value 'green'".into())
        );
        assert_eq!(
            check(json!({"a": 1, "x": 1})),
            Err("Parameter 'x' is unexpected".into())
        );
        assert_eq!(
            check(json!({"x": 1})),
            Err("Parameter 'a' is missing".into()),
            "missing members are reported before unexpected ones"
        );
        assert_eq!(
            check(json!({"a": 1, "l": [{"n": 1}, {"m": 2}]})),
            Err("Parameter 'l[1].n' is missing".into())
        );
        assert_eq!(
            check(json!({"a": 1, "l": [{"n": 1, "z": 0}]})),
            Err("Parameter 'l[0].z' is unexpected".into())
        );
    }

    #[test]
    fn schema_masks_names_and_shares_the_empty_object() {
        let cmds = [
            CommandInfo {
                name: "a",
                args: &[],
                ret: None,
                preconfig: true,
                doc: "",
            },
            CommandInfo {
                name: "b",
                args: ARGS,
                ret: Some(Ty::Array(&INNER_TY)),
                preconfig: false,
                doc: "",
            },
        ];
        let s = introspect(&cmds, &[]);
        let list = s.as_array().unwrap();
        let by = |n: &str| list.iter().find(|e| e["name"] == n).unwrap().clone();
        assert_eq!(by("a")["arg-type"], "0");
        assert_eq!(by("a")["ret-type"], "0");
        let b = by("b");
        assert_eq!(by(b["ret-type"].as_str().unwrap())["meta-type"], "array");
        let args = by(b["arg-type"].as_str().unwrap());
        assert_eq!(args["members"][1]["default"], Value::Null);
        let color = by(args["members"][1]["type"].as_str().unwrap());
        assert_eq!(color["values"], json!(["red", "blue"]));
        assert_eq!(by("int")["json-type"], "int");
        // Every referenced name is defined.
        for e in list {
            for k in ["arg-type", "ret-type", "element-type"] {
                if let Some(n) = e.get(k).and_then(|v| v.as_str()) {
                    assert!(list.iter().any(|x| x["name"] == n), "{n} undefined");
                }
            }
        }
    }
}
