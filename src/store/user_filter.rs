//! Filter -> SQL for Users, through an explicit map from attribute to column.
//!
//! Only the attributes IdPs search by are mapped (`id`, `userName`,
//! `externalId`, `displayName`, `active`, `meta.created`, `meta.lastModified`,
//! `emails.value`/`type`/`primary`); each is an indexed column or the indexed
//! email side table. A filter that names anything else is still answered
//! correctly: the service evaluates it in memory over batches, using the
//! mapped parts as a pre-filter.

use entity::{account, account_email};
use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr, Order, Query, SimpleExpr};
use sea_orm::{DbBackend, Value as DbValue};

use crate::scim::filter::{Cond, Op, Operand};
use crate::scim::schema::{AttrRef, AttrType};

/// A mapped column of the accounts table.
#[derive(Clone, Copy)]
enum Column {
    Account(account::Column),
    Email(account_email::Column),
}

impl Column {
    fn expr(self) -> Expr {
        match self {
            Column::Account(c) => Expr::col((account::Entity, c)),
            Column::Email(c) => Expr::col((account_email::Entity, c)),
        }
    }
}

/// Where an attribute of the top level lives.
enum Mapped {
    Column(account::Column),
    /// Always present (userName, active, meta.*).
    AlwaysPresent(account::Column),
    Email(account_email::Column),
}

fn map_top(target: &AttrRef) -> Option<Mapped> {
    if target.extension.is_some() {
        return None;
    }
    let sub = target.sub.map(|s| s.name);
    Some(match (target.attr.name, sub) {
        ("id", None) => Mapped::AlwaysPresent(account::Column::Id),
        ("userName", None) => Mapped::AlwaysPresent(account::Column::UserNameLower),
        ("externalId", None) => Mapped::Column(account::Column::ExternalId),
        ("displayName", None) => Mapped::Column(account::Column::DisplayNameLower),
        ("active", None) => Mapped::AlwaysPresent(account::Column::Active),
        ("meta", Some("created")) => Mapped::AlwaysPresent(account::Column::CreatedAt),
        ("meta", Some("lastModified")) => Mapped::AlwaysPresent(account::Column::UpdatedAt),
        ("emails", Some("value") | None) => Mapped::Email(account_email::Column::ValueLower),
        ("emails", Some("type")) => Mapped::Email(account_email::Column::TypeLower),
        ("emails", Some("primary")) => Mapped::Email(account_email::Column::IsPrimary),
        _ => return None,
    })
}

fn map_email_sub(target: &AttrRef) -> Option<account_email::Column> {
    match target.sub?.name {
        "value" => Some(account_email::Column::ValueLower),
        "type" => Some(account_email::Column::TypeLower),
        "primary" => Some(account_email::Column::IsPrimary),
        _ => None,
    }
}

/// The whole filter as SQL, or `None` when some part of it is not mapped.
pub fn translate(cond: &Cond) -> Option<SimpleExpr> {
    match cond {
        Cond::And(items) => items
            .iter()
            .map(translate)
            .collect::<Option<Vec<_>>>()
            .and_then(|v| v.into_iter().reduce(|a, b| a.and(b))),
        Cond::Or(items) => items
            .iter()
            .map(translate)
            .collect::<Option<Vec<_>>>()
            .and_then(|v| v.into_iter().reduce(|a, b| a.or(b))),
        Cond::Not(inner) => translate(inner).map(|e| e.not()),
        Cond::Present(target) => Some(match map_top(target)? {
            Mapped::AlwaysPresent(_) => Expr::value(true),
            Mapped::Column(c) => Expr::col((account::Entity, c)).is_not_null(),
            Mapped::Email(c) => email_exists(Column::Email(c).expr().is_not_null()),
        }),
        Cond::Compare(target, op, operand) => Some(match map_top(target)? {
            Mapped::AlwaysPresent(c) | Mapped::Column(c) => {
                compare(Column::Account(c), *op, operand)
            }
            Mapped::Email(c) => email_exists(compare(Column::Email(c), *op, operand)),
        }),
        Cond::Any(parent, inner) if parent.extension.is_none() && parent.attr.name == "emails" => {
            translate_email_scope(inner).map(email_exists)
        }
        Cond::Any(..) => None,
    }
}

/// Inside `emails[...]`: every reference is a column of the email side table.
fn translate_email_scope(cond: &Cond) -> Option<SimpleExpr> {
    match cond {
        Cond::And(items) => items
            .iter()
            .map(translate_email_scope)
            .collect::<Option<Vec<_>>>()
            .and_then(|v| v.into_iter().reduce(|a, b| a.and(b))),
        Cond::Or(items) => items
            .iter()
            .map(translate_email_scope)
            .collect::<Option<Vec<_>>>()
            .and_then(|v| v.into_iter().reduce(|a, b| a.or(b))),
        Cond::Not(inner) => translate_email_scope(inner).map(|e| e.not()),
        Cond::Present(target) => Some(Column::Email(map_email_sub(target)?).expr().is_not_null()),
        Cond::Compare(target, op, operand) => {
            Some(compare(Column::Email(map_email_sub(target)?), *op, operand))
        }
        Cond::Any(..) => None,
    }
}

/// The parts of an `and` that map, to narrow a scan whose rest is evaluated in memory.
pub fn prefilter(cond: &Cond) -> Option<SimpleExpr> {
    match cond {
        Cond::And(items) => items.iter().filter_map(translate).reduce(|a, b| a.and(b)),
        other => translate(other),
    }
}

fn email_exists(condition: SimpleExpr) -> SimpleExpr {
    let mut sub = Query::select();
    sub.expr(Expr::value(1))
        .from(account_email::Entity)
        .and_where(
            Expr::col((account_email::Entity, account_email::Column::AccountId))
                .equals((account::Entity, account::Column::Id)),
        )
        .and_where(condition);
    Expr::exists(sub)
}

/// A comparison that is never SQL NULL: a missing value compares false, so
/// `not` keeps its two-valued meaning (and `ne` matches an absent attribute,
/// as the in-memory evaluator does).
fn compare(column: Column, op: Op, operand: &Operand) -> SimpleExpr {
    let value: DbValue = match operand {
        // Case-insensitive attributes are mapped to lower-cased columns and
        // `cmp` is lower-cased to match; case-exact ones keep their case.
        Operand::Str { cmp, .. } => cmp.clone().into(),
        Operand::Bool(b) => (*b).into(),
        Operand::Num(n) => (*n).into(),
        Operand::Date(d) => (*d).into(),
    };
    let col = column.expr();
    let like = |pattern: String| column.expr().like(LikeExpr::new(pattern).escape('\\'));
    let test = match (op, operand) {
        (Op::Eq, _) => col.eq(value),
        (Op::Co, Operand::Str { cmp, .. }) => like(format!("%{}%", escape_like(cmp))),
        (Op::Sw, Operand::Str { cmp, .. }) => like(format!("{}%", escape_like(cmp))),
        (Op::Ew, Operand::Str { cmp, .. }) => like(format!("%{}", escape_like(cmp))),
        // The compiler refuses co/sw/ew on anything but strings.
        (Op::Co | Op::Sw | Op::Ew, _) => Expr::value(false),
        (Op::Gt, _) => col.gt(value),
        (Op::Ge, _) => col.gte(value),
        (Op::Lt, _) => col.lt(value),
        (Op::Le, _) => col.lte(value),
    };
    column.expr().is_not_null().and(test)
}

fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The SQL expression `sortBy` orders by. Mapped attributes use their
/// (lower-cased where caseExact is false) column; other singular attributes
/// read the stored JSON. `None`: the attribute cannot be sorted on.
pub fn sort_expr(target: &AttrRef, backend: DbBackend) -> Option<SimpleExpr> {
    if let Some(mapped) = map_top(target) {
        return Some(match mapped {
            Mapped::Column(c) | Mapped::AlwaysPresent(c) => Expr::col((account::Entity, c)),
            // RFC 7644 §3.4.2.3: a multi-valued attribute sorts by its primary value.
            Mapped::Email(account_email::Column::ValueLower) => {
                Expr::col((account::Entity, account::Column::PrimaryEmailLower))
            }
            Mapped::Email(_) => return None,
        });
    }
    if target.attr.multi_valued || target.leaf().ty == AttrType::Complex {
        return None;
    }
    let mut keys: Vec<&str> = Vec::new();
    if let Some(ext) = target.extension {
        keys.push(ext);
    }
    keys.push(target.attr.name);
    if let Some(sub) = target.sub {
        keys.push(sub.name);
    }
    // Keys come from the static schema (never from the request), so they are
    // safe to place in SQL text.
    let extract = match backend {
        DbBackend::Postgres => {
            let path = keys
                .iter()
                .map(|k| format!("\"{k}\""))
                .collect::<Vec<_>>()
                .join(",");
            format!("(\"accounts\".\"resource\"::jsonb #>> '{{{path}}}')")
        }
        _ => {
            let path = keys.iter().map(|k| format!(".\"{k}\"")).collect::<String>();
            format!("json_extract(\"accounts\".\"resource\", '${path}')")
        }
    };
    let extract = if target.leaf().case_exact || target.leaf().ty != AttrType::String {
        extract
    } else {
        format!("lower({extract})")
    };
    Some(Expr::cust(extract))
}

pub fn sort_order(descending: bool) -> Order {
    if descending { Order::Desc } else { Order::Asc }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::filter::parse;
    use crate::scim::schema::USER_RESOURCE_TYPE;
    use sea_orm::sea_query::{PostgresQueryBuilder, Query, SqliteQueryBuilder};

    fn sql(filter: &str) -> Option<String> {
        let cond = parse(&USER_RESOURCE_TYPE, filter).unwrap();
        let expr = translate(&cond)?;
        Some(
            Query::select()
                .expr(Expr::value(1))
                .from(account::Entity)
                .and_where(expr)
                .to_string(SqliteQueryBuilder),
        )
    }

    #[test]
    fn indexed_attributes_translate() {
        let s = sql(r#"userName eq "BJensen""#).unwrap();
        assert!(s.contains(r#""user_name_lower" = 'bjensen'"#), "{s}");
        let s = sql(r#"externalId eq "AbC""#).unwrap();
        assert!(s.contains("'AbC'"), "externalId is caseExact: {s}");
        let s = sql(r#"emails[type eq "work" and value co "@Example.com"]"#).unwrap();
        assert!(
            s.contains("EXISTS") && s.contains("'%@example.com%'"),
            "{s}"
        );
        let s = sql(r#"userName sw "a_b%""#).unwrap();
        assert!(
            s.contains(r"'a\_b\%%'"),
            "LIKE metacharacters are escaped: {s}"
        );
        assert!(
            sql(r#"not (displayName eq "x") or meta.lastModified gt "2020-01-01T00:00:00Z""#)
                .is_some()
        );
    }

    #[test]
    fn unmapped_attributes_do_not_translate_but_prefilter_keeps_the_mapped_part() {
        assert!(sql(r#"title eq "x""#).is_none());
        assert!(sql(r#"userName eq "a" or title eq "x""#).is_none());
        let cond = parse(&USER_RESOURCE_TYPE, r#"userName eq "a" and title eq "x""#).unwrap();
        assert!(prefilter(&cond).is_some());
    }

    #[test]
    fn sort_on_json_attributes_per_backend() {
        let target = USER_RESOURCE_TYPE
            .resolve_attr(None, "name", Some("familyName"))
            .unwrap();
        let pg = Query::select()
            .expr(sort_expr(&target, DbBackend::Postgres).unwrap())
            .to_string(PostgresQueryBuilder);
        assert!(pg.contains(r#"#>> '{"name","familyName"}'"#), "{pg}");
        let lite = Query::select()
            .expr(sort_expr(&target, DbBackend::Sqlite).unwrap())
            .to_string(SqliteQueryBuilder);
        assert!(
            lite.contains(r#"json_extract("accounts"."resource", '$."name"."familyName"')"#),
            "{lite}"
        );
        let phones = USER_RESOURCE_TYPE
            .resolve_attr(None, "phoneNumbers", None)
            .unwrap();
        assert!(sort_expr(&phones, DbBackend::Sqlite).is_none());
    }
}
