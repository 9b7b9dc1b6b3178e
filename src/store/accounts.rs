//! An account's sign-in state beside its SCIM attributes: auth mode, password
//! hash, break-glass flag, External user ID; and the admin page's listing.

use chrono::{DateTime, Utc};
use entity::account;
use sea_orm::sea_query::{Expr, ExprTrait, Order};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use super::users::AccountRow;
use super::{LikeAt, like};
use crate::domain::AuthMode;
use crate::domain::linking::{external_user_id, match_key};

/// The effective External user ID of a row, and its source.
pub fn effective_external_user_id(
    row: &AccountRow,
) -> (String, crate::domain::linking::ExternalUserIdSource) {
    let (value, source) = external_user_id(
        row.external_user_id.as_deref(),
        row.external_id.as_deref(),
        row.primary_email.as_deref(),
        &row.user_name,
    );
    (value.to_string(), source)
}

/// The key stored for matching, from the same inputs.
pub fn external_user_id_key(
    explicit: Option<&str>,
    external_id: Option<&str>,
    primary_email: Option<&str>,
    user_name: &str,
) -> String {
    match_key(external_user_id(explicit, external_id, primary_email, user_name).0)
}

fn by_id(org_id: &str, id: &str) -> Condition {
    Condition::all()
        .add(account::Column::Id.eq(id))
        .add(account::Column::OrgId.eq(org_id))
}

/// Sets the auth mode and drops the password hash (DESIGN invariants 1 and 2:
/// neither switch keeps a password). Returns whether the row existed.
pub async fn set_auth_mode(
    conn: &impl ConnectionTrait,
    org_id: &str,
    id: &str,
    mode: AuthMode,
) -> Result<bool, DbErr> {
    let result = account::Entity::update_many()
        .col_expr(account::Column::AuthMode, Expr::value(mode.as_str()))
        .col_expr(
            account::Column::PasswordHash,
            Expr::value(Option::<String>::None),
        )
        .filter(by_id(org_id, id))
        .exec(conn)
        .await?;
    Ok(result.rows_affected > 0)
}

/// Sets a password hash on a `password` account; false if it is not one.
pub async fn set_password_hash(
    conn: &impl ConnectionTrait,
    org_id: &str,
    id: &str,
    hash: &str,
) -> Result<bool, DbErr> {
    let result = account::Entity::update_many()
        .col_expr(account::Column::PasswordHash, Expr::value(hash))
        .filter(by_id(org_id, id))
        .filter(account::Column::AuthMode.eq(AuthMode::Password.as_str()))
        .exec(conn)
        .await?;
    Ok(result.rows_affected > 0)
}

pub async fn set_break_glass(
    conn: &impl ConnectionTrait,
    org_id: &str,
    id: &str,
    enabled: bool,
) -> Result<(), DbErr> {
    account::Entity::update_many()
        .col_expr(account::Column::BreakGlass, Expr::value(enabled))
        .filter(by_id(org_id, id))
        .exec(conn)
        .await?;
    Ok(())
}

pub async fn set_org_role(
    conn: &impl ConnectionTrait,
    org_id: &str,
    id: &str,
    role: &str,
) -> Result<(), DbErr> {
    account::Entity::update_many()
        .col_expr(account::Column::OrgRole, Expr::value(role))
        .filter(by_id(org_id, id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Sets (or, with `None`, clears) the explicit External user ID.
pub async fn set_external_user_id(
    conn: &impl ConnectionTrait,
    row: &AccountRow,
    explicit: Option<&str>,
) -> Result<(), DbErr> {
    let key = external_user_id_key(
        explicit,
        row.external_id.as_deref(),
        row.primary_email.as_deref(),
        &row.user_name,
    );
    account::Entity::update_many()
        .col_expr(
            account::Column::ExternalUserId,
            Expr::value(explicit.map(str::to_string)),
        )
        .col_expr(account::Column::ExternalUserIdKey, Expr::value(key))
        .filter(by_id(&row.org_id, &row.id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Hands an account created by an admin to SCIM (`scim_adopt_existing`).
pub async fn set_source(
    conn: &impl ConnectionTrait,
    org_id: &str,
    id: &str,
    source: &str,
) -> Result<(), DbErr> {
    account::Entity::update_many()
        .col_expr(account::Column::Source, Expr::value(source))
        .filter(by_id(org_id, id))
        .exec(conn)
        .await?;
    Ok(())
}

/// The password accounts that requiring SSO would switch: not break-glass.
fn switchable(org_id: &str) -> sea_orm::Select<account::Entity> {
    account::Entity::find()
        .filter(account::Column::OrgId.eq(org_id))
        .filter(account::Column::AuthMode.eq(AuthMode::Password.as_str()))
        .filter(account::Column::BreakGlass.eq(false))
}

pub async fn count_switchable(conn: &impl ConnectionTrait, org_id: &str) -> Result<u64, DbErr> {
    switchable(org_id).count(conn).await
}

/// Ids and user names of switchable accounts, by user name, at most `limit`
/// (`None`: all, locked for update, to switch them).
pub async fn switchable_accounts(
    conn: &impl ConnectionTrait,
    org_id: &str,
    limit: Option<u64>,
) -> Result<Vec<(String, String)>, DbErr> {
    let query = switchable(org_id)
        .select_only()
        .column(account::Column::Id)
        .column(account::Column::UserName)
        .order_by_asc(account::Column::UserNameLower);
    let query = match limit {
        Some(n) => query.limit(n),
        None => query.lock_exclusive(),
    };
    query.into_tuple().all(conn).await
}

/// Switches these accounts to `sso` and drops their password hashes.
pub async fn switch_to_sso(
    conn: &impl ConnectionTrait,
    org_id: &str,
    ids: &[String],
) -> Result<(), DbErr> {
    for chunk in ids.chunks(500) {
        account::Entity::update_many()
            .col_expr(
                account::Column::AuthMode,
                Expr::value(AuthMode::Sso.as_str()),
            )
            .col_expr(
                account::Column::PasswordHash,
                Expr::value(Option::<String>::None),
            )
            .filter(account::Column::OrgId.eq(org_id))
            .filter(account::Column::Id.is_in(chunk.iter().map(String::as_str)))
            .exec(conn)
            .await?;
    }
    Ok(())
}

/// The account whose user name has this key, if any.
pub async fn find_by_user_name_key(
    conn: &impl ConnectionTrait,
    org_id: &str,
    user_name_key: &str,
) -> Result<Option<AccountRow>, DbErr> {
    account::Entity::find()
        .filter(account::Column::OrgId.eq(org_id))
        .filter(account::Column::UserNameLower.eq(user_name_key))
        .one(conn)
        .await
}

/// Accounts with this primary email (lower-cased), of any source.
pub async fn find_by_email(
    conn: &impl ConnectionTrait,
    org_id: &str,
    email_lower: &str,
) -> Result<Vec<AccountRow>, DbErr> {
    account::Entity::find()
        .filter(account::Column::OrgId.eq(org_id))
        .filter(account::Column::PrimaryEmailLower.eq(email_lower))
        .limit(10)
        .all(conn)
        .await
}

/// Accounts whose External user ID has this match key.
pub async fn find_by_external_user_id_key(
    conn: &impl ConnectionTrait,
    org_id: &str,
    key: &str,
) -> Result<Vec<AccountRow>, DbErr> {
    account::Entity::find()
        .filter(account::Column::OrgId.eq(org_id))
        .filter(account::Column::ExternalUserIdKey.eq(key))
        .limit(10)
        .all(conn)
        .await
}

/// The admin page's listing: by (lower-cased user name, id), after `after`,
/// narrowed by a case-insensitive substring of user name, display name or email.
/// What the admin listing narrows to; `None` fields do not narrow.
#[derive(Debug, Default, Clone, Copy)]
pub struct ListFilter<'a> {
    /// A substring of the user name, display name or primary email.
    pub query: Option<&'a str>,
    pub auth_mode: Option<&'a str>,
    pub active: Option<bool>,
    /// `Some(true)`: made by SCIM; `Some(false)`: made any other way.
    pub scim_managed: Option<bool>,
    /// Members of this workspace only.
    pub workspace_id: Option<&'a str>,
}

pub async fn list(
    conn: &impl ConnectionTrait,
    org_id: &str,
    filter: ListFilter<'_>,
    after: Option<(&str, &str)>,
    limit: u64,
) -> Result<Vec<AccountRow>, DbErr> {
    let mut select = account::Entity::find().filter(account::Column::OrgId.eq(org_id));
    if let Some(mode) = filter.auth_mode {
        select = select.filter(account::Column::AuthMode.eq(mode));
    }
    if let Some(active) = filter.active {
        select = select.filter(account::Column::Active.eq(active));
    }
    if let Some(workspace) = filter.workspace_id {
        let members = sea_orm::sea_query::Query::select()
            .column(entity::workspace_member::Column::AccountId)
            .from(entity::workspace_member::Entity)
            .and_where(Expr::col(entity::workspace_member::Column::OrgId).eq(org_id))
            .and_where(Expr::col(entity::workspace_member::Column::WorkspaceId).eq(workspace))
            .to_owned();
        select = select.filter(Expr::col(account::Column::Id).in_subquery(members));
    }
    match filter.scim_managed {
        Some(true) => select = select.filter(account::Column::Source.eq("scim")),
        Some(false) => select = select.filter(account::Column::Source.ne("scim")),
        None => {}
    }
    if let Some(q) = filter.query.map(str::trim).filter(|q| !q.is_empty()) {
        let q = q.to_lowercase();
        let like = |col: account::Column| like(Expr::col(col), LikeAt::Anywhere, &q);
        select = select.filter(
            Condition::any()
                .add(like(account::Column::UserNameLower))
                .add(like(account::Column::DisplayNameLower))
                .add(like(account::Column::PrimaryEmailLower)),
        );
    }
    if let Some((name, id)) = after {
        select = select.filter(
            Condition::any()
                .add(account::Column::UserNameLower.gt(name))
                .add(
                    Condition::all()
                        .add(account::Column::UserNameLower.eq(name))
                        .add(account::Column::Id.gt(id)),
                ),
        );
    }
    select
        .order_by(account::Column::UserNameLower, Order::Asc)
        .order_by(account::Column::Id, Order::Asc)
        .limit(limit)
        .all(conn)
        .await
}

/// Whether some active account of the organisation may sign in with a
/// password (only break-glass accounts when `break_glass_only`).
pub async fn any_password_account(
    conn: &impl ConnectionTrait,
    org_id: &str,
    break_glass_only: bool,
) -> Result<bool, DbErr> {
    let mut select = account::Entity::find()
        .filter(account::Column::OrgId.eq(org_id))
        .filter(account::Column::Active.eq(true))
        .filter(account::Column::AuthMode.eq("password"));
    if break_glass_only {
        select = select.filter(account::Column::BreakGlass.eq(true));
    }
    Ok(select.one(conn).await?.is_some())
}

/// Records an SSO sign-in on the account.
pub async fn touch_account(
    conn: &impl ConnectionTrait,
    account_id: &str,
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    account::Entity::update_many()
        .col_expr(account::Column::LastSignInAt, Expr::value(at))
        .filter(account::Column::Id.eq(account_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Which of these accounts have an organisation role (the dashboard's staff).
pub async fn staff_among(
    conn: &impl ConnectionTrait,
    org_id: &str,
    ids: &[String],
) -> Result<std::collections::HashSet<String>, DbErr> {
    let mut staff = std::collections::HashSet::new();
    for chunk in ids.chunks(500) {
        let rows: Vec<String> = account::Entity::find()
            .select_only()
            .column(account::Column::Id)
            .filter(account::Column::OrgId.eq(org_id))
            .filter(account::Column::Id.is_in(chunk.iter().map(String::as_str)))
            .filter(account::Column::OrgRole.ne("none"))
            .into_tuple()
            .all(conn)
            .await?;
        staff.extend(rows);
    }
    Ok(staff)
}

/// How many active accounts of the organisation have the organisation role
/// admin, leaving out `except`.
pub async fn count_active_admins(
    conn: &impl ConnectionTrait,
    org_id: &str,
    except: &str,
) -> Result<u64, DbErr> {
    account::Entity::find()
        .filter(account::Column::OrgId.eq(org_id))
        .filter(account::Column::OrgRole.eq("admin"))
        .filter(account::Column::Active.eq(true))
        .filter(account::Column::Id.ne(except))
        .count(conn)
        .await
}
