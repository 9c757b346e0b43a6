//! The checked-in SDL is the contract with the mobile apps: it must match the code, and
//! every type and field must say what it is.

use std::path::PathBuf;

const REGENERATE: &str = "BEATLINE_UPDATE_SCHEMA=1 cargo test -p graphql-schema --test schema";

fn checked_in_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schema.graphql")
}

#[test]
fn checked_in_schema_is_current() {
    let current = graphql_schema::sdl();
    let path = checked_in_path();
    if std::env::var("BEATLINE_UPDATE_SCHEMA").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &current).unwrap();
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == current,
        "graphql-schema/schema.graphql is stale: the API changed. Regenerate it with\n    {REGENERATE}\nand commit the diff."
    );
}

#[test]
fn every_type_field_and_argument_is_described() {
    let sdl = graphql_schema::sdl();
    let doc = async_graphql::parser::parse_schema(&sdl).expect("the SDL parses");
    let mut missing = Vec::new();
    for def in &doc.definitions {
        use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};
        let TypeSystemDefinition::Type(ty) = def else {
            continue;
        };
        let ty = &ty.node;
        let name = ty.name.node.as_str();
        if ty.description.is_none() && !is_builtin(name) {
            missing.push(name.to_owned());
        }
        match &ty.kind {
            TypeKind::Object(o) => {
                for f in &o.fields {
                    if f.node.description.is_none() {
                        missing.push(format!("{name}.{}", f.node.name.node));
                    }
                    for a in &f.node.arguments {
                        if a.node.description.is_none()
                            && !f
                                .node
                                .description
                                .as_ref()
                                .is_some_and(|d| d.node.contains(a.node.name.node.as_str()))
                        {
                            missing
                                .push(format!("{name}.{}({})", f.node.name.node, a.node.name.node));
                        }
                    }
                }
            }
            TypeKind::InputObject(o) => {
                for f in &o.fields {
                    if f.node.description.is_none() {
                        missing.push(format!("{name}.{}", f.node.name.node));
                    }
                }
            }
            TypeKind::Enum(e) => {
                for v in &e.values {
                    if v.node.description.is_none() {
                        missing.push(format!("{name}.{}", v.node.value.node));
                    }
                }
            }
            _ => {}
        }
    }
    assert!(
        missing.is_empty(),
        "these lack a doc comment (it becomes the SDL description): {missing:#?}"
    );
}

fn is_builtin(name: &str) -> bool {
    matches!(
        name,
        "Boolean" | "Float" | "ID" | "Int" | "String" | "DateTime" | "JSON"
    )
}
