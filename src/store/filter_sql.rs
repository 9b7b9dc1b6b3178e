//! Filter -> SQL, through an explicit map from attribute to column for each
//! resource type.
//!
//! Only the attributes IdPs search by are mapped. Users: `id`, `userName`,
//! `externalId`, `displayName`, `active`, `meta.created`, `meta.lastModified`,
//! `emails.value`/`type`/`primary`. Groups: `id`, `displayName`,
//! `externalId`, `meta.*`, `members.value`/`type`. Each is an indexed column
//! or an indexed side table. A filter that names anything else is still
//! answered correctly: the service evaluates it in memory over batches, using
//! the mapped parts as a pre-filter.

use entity::{account, account_email, group, group_member};
use sea_orm::sea_query::{Expr, ExprTrait, Order, Query, SimpleExpr};
use sea_orm::{DbBackend, Value as DbValue};

use super::{LikeAt, like};
use crate::scim::filter::{Cond, Op, Operand};
use crate::scim::schema::{AttrRef, AttrType};

/// A side table holding the values of a multi-valued attribute, one row per value.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// `account_emails`, for a User's `emails`.
    AccountEmails,
    /// `group_members`, for a Group's `members`.
    GroupMembers,
}

/// A column a filter can test.
#[derive(Clone, Copy)]
enum Column {
    Account(account::Column),
    Group(group::Column),
    Email(account_email::Column),
    /// `members.value`: the member's id, in whichever of the two columns is set.
    MemberValue,
    /// `members.type`: `User` or `Group`, from which column is set.
    MemberType,
}

impl Column {
    fn expr(self) -> Expr {
        match self {
            Column::Account(c) => Expr::col((account::Entity, c)),
            Column::Group(c) => Expr::col((group::Entity, c)),
            Column::Email(c) => Expr::col((account_email::Entity, c)),
            Column::MemberValue | Column::MemberType => {
                Expr::col((group_member::Entity, group_member::Column::GroupId))
            }
        }
    }
}

/// Where an attribute of the top level lives.
enum Mapped {
    Column(Column),
    /// A column that is never NULL (userName, active, meta.*).
    AlwaysPresent(Column),
    /// A column of a side table: true when some row of the resource matches.
    Side(Side, Column),
}

/// The resource type whose table a filter runs on.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Users,
    Groups,
}

impl Table {
    fn map_top(self, target: &AttrRef) -> Option<Mapped> {
        if target.extension.is_some() {
            return None;
        }
        let sub = target.sub.map(|s| s.name);
        match self {
            Table::Users => Some(match (target.attr.name, sub) {
                ("id", None) => Mapped::AlwaysPresent(Column::Account(account::Column::Id)),
                ("userName", None) => {
                    Mapped::AlwaysPresent(Column::Account(account::Column::UserNameLower))
                }
                ("externalId", None) => {
                    Mapped::Column(Column::Account(account::Column::ExternalId))
                }
                ("displayName", None) => {
                    Mapped::Column(Column::Account(account::Column::DisplayNameLower))
                }
                ("active", None) => Mapped::AlwaysPresent(Column::Account(account::Column::Active)),
                ("meta", Some("created")) => {
                    Mapped::AlwaysPresent(Column::Account(account::Column::CreatedAt))
                }
                ("meta", Some("lastModified")) => {
                    Mapped::AlwaysPresent(Column::Account(account::Column::UpdatedAt))
                }
                ("emails", _) => Mapped::Side(
                    Side::AccountEmails,
                    side_column(Side::AccountEmails, sub.unwrap_or("value"))?,
                ),
                _ => return None,
            }),
            Table::Groups => Some(match (target.attr.name, sub) {
                ("id", None) => Mapped::AlwaysPresent(Column::Group(group::Column::Id)),
                ("displayName", None) => {
                    Mapped::AlwaysPresent(Column::Group(group::Column::DisplayNameLower))
                }
                ("externalId", None) => Mapped::Column(Column::Group(group::Column::ExternalId)),
                ("meta", Some("created")) => {
                    Mapped::AlwaysPresent(Column::Group(group::Column::CreatedAt))
                }
                ("meta", Some("lastModified")) => {
                    Mapped::AlwaysPresent(Column::Group(group::Column::UpdatedAt))
                }
                ("members", _) => Mapped::Side(
                    Side::GroupMembers,
                    side_column(Side::GroupMembers, sub.unwrap_or("value"))?,
                ),
                _ => return None,
            }),
        }
    }

    fn side_of(self, parent: &AttrRef) -> Option<Side> {
        match (self, parent.extension, parent.attr.name) {
            (Table::Users, None, "emails") => Some(Side::AccountEmails),
            (Table::Groups, None, "members") => Some(Side::GroupMembers),
            _ => None,
        }
    }
}

fn side_column(side: Side, sub: &str) -> Option<Column> {
    match (side, sub) {
        (Side::AccountEmails, "value") => Some(Column::Email(account_email::Column::ValueLower)),
        (Side::AccountEmails, "type") => Some(Column::Email(account_email::Column::TypeLower)),
        (Side::AccountEmails, "primary") => Some(Column::Email(account_email::Column::IsPrimary)),
        (Side::GroupMembers, "value") => Some(Column::MemberValue),
        (Side::GroupMembers, "type") => Some(Column::MemberType),
        _ => None,
    }
}

/// The whole filter as SQL on `table` for the organisation `org_id` (side
/// tables are scoped by it too, so their `(org_id, value)` indexes apply), or
/// `None` when some part is not mapped.
pub fn translate(table: Table, org_id: &str, cond: &Cond) -> Option<SimpleExpr> {
    translate_in(table, org_id, None, cond)
}

/// `scope`: inside `attr[...]`, the side table every reference names a column of.
fn translate_in(
    table: Table,
    org_id: &str,
    scope: Option<Side>,
    cond: &Cond,
) -> Option<SimpleExpr> {
    match cond {
        Cond::And(items) => items
            .iter()
            .map(|c| translate_in(table, org_id, scope, c))
            .collect::<Option<Vec<_>>>()
            .and_then(|v| v.into_iter().reduce(|a, b| a.and(b))),
        Cond::Or(items) => items
            .iter()
            .map(|c| translate_in(table, org_id, scope, c))
            .collect::<Option<Vec<_>>>()
            .and_then(|v| v.into_iter().reduce(|a, b| a.or(b))),
        Cond::Not(inner) => translate_in(table, org_id, scope, inner).map(|e| e.not()),
        Cond::Present(target) | Cond::Compare(target, ..) => match scope {
            Some(side) => Some(test(side_column(side, target.sub?.name)?, cond)),
            None => Some(match table.map_top(target)? {
                Mapped::AlwaysPresent(_) if matches!(cond, Cond::Present(_)) => Expr::value(true),
                Mapped::AlwaysPresent(c) | Mapped::Column(c) => test(c, cond),
                Mapped::Side(side, c) => side_exists(side, org_id, test(c, cond)),
            }),
        },
        Cond::Any(parent, inner) => {
            if scope.is_some() {
                return None;
            }
            let side = table.side_of(parent)?;
            translate_in(table, org_id, Some(side), inner).map(|c| side_exists(side, org_id, c))
        }
    }
}

/// A `members[...]` filter (as PATCH paths carry) as a condition on the
/// membership rows of one group, or `None` when it tests more than `value`
/// and `type`.
pub fn member_condition(org_id: &str, cond: &Cond) -> Option<SimpleExpr> {
    translate_in(Table::Groups, org_id, Some(Side::GroupMembers), cond)
}

/// A presence test or comparison on one column.
fn test(column: Column, cond: &Cond) -> SimpleExpr {
    match cond {
        Cond::Compare(_, op, operand) => compare(column, *op, operand),
        // Every member row has a value and a type.
        _ => match column {
            Column::MemberValue | Column::MemberType => Expr::value(true),
            other => other.expr().is_not_null(),
        },
    }
}

/// The parts of an `and` that map, to narrow a scan whose rest is evaluated in memory.
pub fn prefilter(table: Table, org_id: &str, cond: &Cond) -> Option<SimpleExpr> {
    match cond {
        Cond::And(items) => items
            .iter()
            .filter_map(|c| translate(table, org_id, c))
            .reduce(|a, b| a.and(b)),
        other => translate(table, org_id, other),
    }
}

/// True when some row of the side table belongs to the resource and
/// satisfies `condition`. Written as `id IN (rows of this organisation that
/// match)`, so the side table's `(org_id, value)` or member index drives the
/// query rather than a probe per resource of the organisation.
fn side_exists(side: Side, org_id: &str, condition: SimpleExpr) -> SimpleExpr {
    let mut sub = Query::select();
    match side {
        Side::AccountEmails => {
            sub.column((account_email::Entity, account_email::Column::AccountId))
                .from(account_email::Entity)
                .and_where(
                    Expr::col((account_email::Entity, account_email::Column::OrgId)).eq(org_id),
                )
                .and_where(condition);
            Expr::col((account::Entity, account::Column::Id)).in_subquery(sub)
        }
        Side::GroupMembers => {
            sub.column((group_member::Entity, group_member::Column::GroupId))
                .from(group_member::Entity)
                .and_where(
                    Expr::col((group_member::Entity, group_member::Column::OrgId)).eq(org_id),
                )
                .and_where(condition);
            Expr::col((group::Entity, group::Column::Id)).in_subquery(sub)
        }
    }
}

/// A comparison that is never SQL NULL: a missing value compares false, so
/// `not` keeps its two-valued meaning (and `ne` matches an absent attribute,
/// as the in-memory evaluator does).
fn compare(column: Column, op: Op, operand: &Operand) -> SimpleExpr {
    let member = |c: group_member::Column| Expr::col((group_member::Entity, c));
    match column {
        // A member's id is in one of two columns; the other is NULL.
        Column::MemberValue => {
            return compare_expr(member(group_member::Column::MemberUserId), op, operand).or(
                compare_expr(member(group_member::Column::MemberGroupId), op, operand),
            );
        }
        // `type` is `User` or `Group` by which column is set (caseExact false).
        Column::MemberType => {
            let matches = |name: &str| match operand {
                Operand::Str { cmp, .. } => match op {
                    Op::Eq => cmp == name,
                    Op::Co => name.contains(cmp.as_str()),
                    Op::Sw => name.starts_with(cmp.as_str()),
                    Op::Ew => name.ends_with(cmp.as_str()),
                    Op::Gt => name > cmp.as_str(),
                    Op::Ge => name >= cmp.as_str(),
                    Op::Lt => name < cmp.as_str(),
                    Op::Le => name <= cmp.as_str(),
                },
                _ => false,
            };
            let user = member(group_member::Column::MemberUserId).is_not_null();
            let group = member(group_member::Column::MemberGroupId).is_not_null();
            return match (matches("user"), matches("group")) {
                (true, true) => Expr::value(true),
                (true, false) => user,
                (false, true) => group,
                (false, false) => Expr::value(false),
            };
        }
        _ => {}
    }
    compare_expr(column.expr(), op, operand)
}

fn compare_expr(col: Expr, op: Op, operand: &Operand) -> SimpleExpr {
    let value: DbValue = match operand {
        // Case-insensitive attributes are mapped to lower-cased columns and
        // `cmp` is lower-cased to match; case-exact ones keep their case.
        Operand::Str { cmp, .. } => cmp.clone().into(),
        Operand::Bool(b) => (*b).into(),
        Operand::Num(n) => (*n).into(),
        Operand::Date(d) => (*d).into(),
    };
    let test = match (op, operand) {
        (Op::Eq, _) => col.clone().eq(value),
        (Op::Co, Operand::Str { cmp, .. }) => like(col.clone(), LikeAt::Anywhere, cmp),
        (Op::Sw, Operand::Str { cmp, .. }) => like(col.clone(), LikeAt::Start, cmp),
        (Op::Ew, Operand::Str { cmp, .. }) => like(col.clone(), LikeAt::End, cmp),
        // The compiler refuses co/sw/ew on anything but strings.
        (Op::Co | Op::Sw | Op::Ew, _) => Expr::value(false),
        (Op::Gt, _) => col.clone().gt(value),
        (Op::Ge, _) => col.clone().gte(value),
        (Op::Lt, _) => col.clone().lt(value),
        (Op::Le, _) => col.clone().lte(value),
    };
    col.is_not_null().and(test)
}

/// The SQL expression `sortBy` orders by. Mapped attributes use their
/// (lower-cased where caseExact is false) column; other singular attributes
/// read the stored JSON. `None`: the attribute cannot be sorted on.
pub fn sort_expr(table: Table, target: &AttrRef, backend: DbBackend) -> Option<SimpleExpr> {
    if let Some(mapped) = table.map_top(target) {
        return match mapped {
            Mapped::Column(c) | Mapped::AlwaysPresent(c) => Some(c.expr()),
            // RFC 7644 §3.4.2.3: a multi-valued attribute sorts by its primary value.
            Mapped::Side(Side::AccountEmails, Column::Email(account_email::Column::ValueLower)) => {
                Some(Expr::col((
                    account::Entity,
                    account::Column::PrimaryEmailLower,
                )))
            }
            Mapped::Side(..) => None,
        };
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
    let table_name = match table {
        Table::Users => "accounts",
        Table::Groups => "groups",
    };
    // Keys come from the static schema (never from the request), so they are
    // safe to place in SQL text.
    let extract = match backend {
        DbBackend::Postgres => {
            let path = keys
                .iter()
                .map(|k| format!("\"{k}\""))
                .collect::<Vec<_>>()
                .join(",");
            format!("(\"{table_name}\".\"resource\"::jsonb #>> '{{{path}}}')")
        }
        _ => {
            let path = keys.iter().map(|k| format!(".\"{k}\"")).collect::<String>();
            format!("json_extract(\"{table_name}\".\"resource\", '${path}')")
        }
    };
    let extract = if target.leaf().case_exact || target.leaf().ty != AttrType::String {
        extract
    } else {
        format!("lower({extract})")
    };
    // Code-point order on both databases, as the indexed columns have.
    let extract = match backend {
        DbBackend::Postgres => format!("({extract} COLLATE \"C\")"),
        _ => extract,
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
        let expr = translate(Table::Users, "org-1", &cond)?;
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
            s.contains(r#""account_emails"."org_id" = 'org-1'"#) && s.contains("'%@example.com%'"),
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
        assert!(prefilter(Table::Users, "org-1", &cond).is_some());
    }

    #[test]
    fn sort_on_json_attributes_per_backend() {
        let target = USER_RESOURCE_TYPE
            .resolve_attr(None, "name", Some("familyName"))
            .unwrap();
        let pg = Query::select()
            .expr(sort_expr(Table::Users, &target, DbBackend::Postgres).unwrap())
            .to_string(PostgresQueryBuilder);
        assert!(pg.contains(r#"#>> '{"name","familyName"}'"#), "{pg}");
        let lite = Query::select()
            .expr(sort_expr(Table::Users, &target, DbBackend::Sqlite).unwrap())
            .to_string(SqliteQueryBuilder);
        assert!(
            lite.contains(r#"json_extract("accounts"."resource", '$."name"."familyName"')"#),
            "{lite}"
        );
        let phones = USER_RESOURCE_TYPE
            .resolve_attr(None, "phoneNumbers", None)
            .unwrap();
        assert!(sort_expr(Table::Users, &phones, DbBackend::Sqlite).is_none());
    }
}
