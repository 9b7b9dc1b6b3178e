//! Accounts, stored as the SCIM User: a row with indexed columns derived from
//! the attributes (userName, externalId, displayName, primary email, active),
//! the attributes themselves as JSON text, and an email side table.

use chrono::{DateTime, Utc};
use entity::{account, account_email};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, Set,
};
use serde_json::{Map, Value};

pub use entity::account::Model as AccountRow;

use super::accounts::external_user_id_key;
use crate::domain::{AuthMode, user_name_key};

/// The columns a row derives from its attributes.
struct Derived {
    user_name: String,
    external_id: Option<String>,
    display_name: Option<String>,
    primary_email: Option<String>,
    active: bool,
    emails: Vec<(String, Option<String>, Option<bool>)>,
}

fn derive(attrs: &Map<String, Value>) -> Derived {
    let text = |k: &str| attrs.get(k).and_then(Value::as_str).map(str::to_string);
    let emails: Vec<(String, Option<String>, Option<bool>)> = attrs
        .get("emails")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|e| {
                    let value = e.get("value")?.as_str()?.to_string();
                    let kind = e.get("type").and_then(Value::as_str).map(str::to_lowercase);
                    let primary = e.get("primary").and_then(Value::as_bool);
                    Some((value, kind, primary))
                })
                .collect()
        })
        .unwrap_or_default();
    let primary_email = emails
        .iter()
        .find(|(_, _, primary)| *primary == Some(true))
        .or_else(|| emails.first())
        .map(|(v, _, _)| v.clone());
    Derived {
        user_name: text("userName").unwrap_or_default(),
        external_id: text("externalId"),
        display_name: text("displayName"),
        primary_email,
        // RFC 7643 §4.1.1 leaves a missing `active` to the service provider: active.
        active: attrs.get("active").and_then(Value::as_bool).unwrap_or(true),
        emails,
    }
}

pub struct NewAccount<'a> {
    pub id: &'a str,
    pub org_id: &'a str,
    pub attributes: &'a Map<String, Value>,
    pub auth_mode: AuthMode,
    pub password_hash: Option<String>,
    pub break_glass: bool,
    /// `scim`, `admin`, `cli` or `jit`.
    pub source: &'a str,
    /// An External user ID set explicitly at creation.
    pub external_user_id: Option<&'a str>,
    pub now: DateTime<Utc>,
}

pub async fn insert(conn: &impl ConnectionTrait, new: NewAccount<'_>) -> Result<AccountRow, DbErr> {
    let d = derive(new.attributes);
    let external_user_id_key = external_user_id_key(
        new.external_user_id,
        d.external_id.as_deref(),
        d.primary_email.as_deref(),
        &d.user_name,
    );
    let row = account::ActiveModel {
        id: Set(new.id.to_string()),
        org_id: Set(new.org_id.to_string()),
        user_name_lower: Set(user_name_key(&d.user_name)),
        user_name: Set(d.user_name),
        external_id: Set(d.external_id),
        display_name_lower: Set(d.display_name.as_deref().map(str::to_lowercase)),
        display_name: Set(d.display_name),
        primary_email_lower: Set(d.primary_email.as_deref().map(str::to_lowercase)),
        primary_email: Set(d.primary_email),
        active: Set(d.active),
        auth_mode: Set(new.auth_mode.as_str().into()),
        password_hash: Set(new.password_hash),
        break_glass: Set(new.break_glass),
        external_user_id: Set(new.external_user_id.map(str::to_string)),
        external_user_id_key: Set(Some(external_user_id_key)),
        source: Set(new.source.to_string()),
        last_sign_in_at: Set(None),
        org_role: Set(crate::domain::OrgRole::None.as_str().into()),
        resource: Set(Value::Object(new.attributes.clone()).to_string()),
        version: Set(1),
        created_at: Set(new.now),
        updated_at: Set(new.now),
    }
    .insert(conn)
    .await?;
    replace_emails(conn, new.org_id, new.id, &d.emails).await?;
    Ok(row)
}

/// Writes new attributes if the row is still at the version `current` was read at.
/// `Ok(None)`: someone else changed it first.
pub async fn update(
    conn: &impl ConnectionTrait,
    current: &AccountRow,
    attributes: &Map<String, Value>,
    new_password_hash: Option<String>,
    now: DateTime<Utc>,
) -> Result<Option<AccountRow>, DbErr> {
    let d = derive(attributes);
    let mut row: account::ActiveModel = current.clone().into();
    row.external_user_id_key = Set(Some(external_user_id_key(
        current.external_user_id.as_deref(),
        d.external_id.as_deref(),
        d.primary_email.as_deref(),
        &d.user_name,
    )));
    row.user_name_lower = Set(user_name_key(&d.user_name));
    row.user_name = Set(d.user_name);
    row.external_id = Set(d.external_id);
    row.display_name_lower = Set(d.display_name.as_deref().map(str::to_lowercase));
    row.display_name = Set(d.display_name);
    row.primary_email_lower = Set(d.primary_email.as_deref().map(str::to_lowercase));
    row.primary_email = Set(d.primary_email);
    row.active = Set(d.active);
    if let Some(hash) = new_password_hash {
        row.password_hash = Set(Some(hash));
    }
    row.resource = Set(Value::Object(attributes.clone()).to_string());
    row.version = Set(current.version + 1);
    row.updated_at = Set(now);
    let result = account::Entity::update_many()
        .set(row)
        .filter(account::Column::Id.eq(current.id.as_str()))
        .filter(account::Column::OrgId.eq(current.org_id.as_str()))
        .filter(account::Column::Version.eq(current.version))
        .exec(conn)
        .await?;
    if result.rows_affected == 0 {
        return Ok(None);
    }
    replace_emails(conn, &current.org_id, &current.id, &d.emails).await?;
    find(conn, &current.org_id, &current.id).await
}

async fn replace_emails(
    conn: &impl ConnectionTrait,
    org_id: &str,
    account_id: &str,
    emails: &[(String, Option<String>, Option<bool>)],
) -> Result<(), DbErr> {
    account_email::Entity::delete_many()
        .filter(account_email::Column::AccountId.eq(account_id))
        .exec(conn)
        .await?;
    if emails.is_empty() {
        return Ok(());
    }
    let rows = emails
        .iter()
        .map(|(value, kind, primary)| account_email::ActiveModel {
            account_id: Set(account_id.to_string()),
            org_id: Set(org_id.to_string()),
            value_lower: Set(value.to_lowercase()),
            value: Set(value.clone()),
            type_lower: Set(kind.clone()),
            is_primary: Set(*primary),
            ..Default::default()
        });
    account_email::Entity::insert_many(rows).exec(conn).await?;
    Ok(())
}

/// Deletes an account (its email rows go with it by foreign key); returns whether it existed.
/// The table Users are rows of.
pub type Table = account::Entity;

pub async fn find(
    conn: &impl ConnectionTrait,
    org_id: &str,
    id: &str,
) -> Result<Option<AccountRow>, DbErr> {
    super::resources::find::<Table>(conn, org_id, id, false).await
}

/// Reads an account to change it, holding its row (see `resources::find`).
pub async fn find_for_update(
    conn: &impl ConnectionTrait,
    org_id: &str,
    id: &str,
) -> Result<Option<AccountRow>, DbErr> {
    super::resources::find::<Table>(conn, org_id, id, true).await
}

pub async fn delete(conn: &impl ConnectionTrait, org_id: &str, id: &str) -> Result<bool, DbErr> {
    account_email::Entity::delete_many()
        .filter(account_email::Column::AccountId.eq(id))
        .filter(account_email::Column::OrgId.eq(org_id))
        .exec(conn)
        .await?;
    let result = account::Entity::delete_many()
        .filter(account::Column::Id.eq(id))
        .filter(account::Column::OrgId.eq(org_id))
        .exec(conn)
        .await?;
    Ok(result.rows_affected > 0)
}

/// Which unique attribute another account of the organisation already holds.
pub enum Clash {
    UserName,
    ExternalId,
}

pub async fn find_clash(
    conn: &impl ConnectionTrait,
    org_id: &str,
    attributes: &Map<String, Value>,
    except_id: Option<&str>,
) -> Result<Option<Clash>, DbErr> {
    let d = derive(attributes);
    let others = || {
        let mut q = account::Entity::find().filter(account::Column::OrgId.eq(org_id));
        if let Some(id) = except_id {
            q = q.filter(account::Column::Id.ne(id));
        }
        q
    };
    if others()
        .filter(account::Column::UserNameLower.eq(user_name_key(&d.user_name)))
        .count(conn)
        .await?
        > 0
    {
        return Ok(Some(Clash::UserName));
    }
    if let Some(external_id) = d.external_id
        && others()
            .filter(account::Column::ExternalId.eq(external_id))
            .count(conn)
            .await?
            > 0
    {
        return Ok(Some(Clash::ExternalId));
    }
    Ok(None)
}
