//! The SCIM schemas scimlink implements (RFC 7643 §4, §8.7.1), as data.
//!
//! One definition serves `/Schemas`, input normalisation, filter compilation,
//! PATCH targeting and projection, so they cannot disagree.

use serde_json::{Map, Value, json};

pub const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE_USER_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const LIST_RESPONSE_URN: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const PATCH_OP_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const SPC_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
pub const RESOURCE_TYPE_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
pub const SCHEMA_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    Always,
    Never,
    Default,
    Request,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uniqueness {
    None,
    Server,
}

/// One attribute's characteristics (RFC 7643 §2.2, §7).
#[derive(Debug)]
pub struct AttrDef {
    pub name: &'static str,
    pub ty: AttrType,
    pub multi_valued: bool,
    pub description: &'static str,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub uniqueness: Uniqueness,
    pub canonical_values: &'static [&'static str],
    pub reference_types: &'static [&'static str],
    pub sub_attributes: &'static [AttrDef],
}

impl AttrDef {
    pub fn sub(&self, name: &str) -> Option<&'static AttrDef> {
        find_attr(self.sub_attributes, name)
    }
    pub fn is_complex(&self) -> bool {
        self.ty == AttrType::Complex
    }
    /// The sub-attribute a filter or PATCH means when it names a multi-valued
    /// complex attribute alone (`emails co "x"` is `emails.value co "x"`).
    pub fn value_sub(&self) -> Option<&'static AttrDef> {
        self.sub("value")
    }
}

pub fn find_attr(attrs: &'static [AttrDef], name: &str) -> Option<&'static AttrDef> {
    // RFC 7643 §2.1: attribute names are case-insensitive.
    attrs.iter().find(|a| a.name.eq_ignore_ascii_case(name))
}

const fn string(name: &'static str, description: &'static str) -> AttrDef {
    AttrDef {
        name,
        ty: AttrType::String,
        multi_valued: false,
        description,
        required: false,
        case_exact: false,
        mutability: Mutability::ReadWrite,
        returned: Returned::Default,
        uniqueness: Uniqueness::None,
        canonical_values: &[],
        reference_types: &[],
        sub_attributes: &[],
    }
}

const fn of_type(ty: AttrType, name: &'static str, description: &'static str) -> AttrDef {
    AttrDef {
        ty,
        ..string(name, description)
    }
}

const fn complex(
    name: &'static str,
    description: &'static str,
    multi_valued: bool,
    sub_attributes: &'static [AttrDef],
) -> AttrDef {
    AttrDef {
        ty: AttrType::Complex,
        multi_valued,
        sub_attributes,
        ..string(name, description)
    }
}

const fn type_attr(canonical_values: &'static [&'static str]) -> AttrDef {
    AttrDef {
        canonical_values,
        ..string("type", "A label indicating the attribute's function.")
    }
}

const fn primary() -> AttrDef {
    of_type(
        AttrType::Boolean,
        "primary",
        "A Boolean value indicating the 'primary' or preferred attribute value for this attribute.",
    )
}

const fn display() -> AttrDef {
    string(
        "display",
        "A human-readable name, primarily used for display purposes.",
    )
}

/// The sub-attributes of the plain multi-valued attributes (RFC 7643 §2.4).
macro_rules! multi_value_subs {
    ($value:expr, $types:expr) => {
        &[$value, display(), type_attr($types), primary()]
    };
}

/// `id`, `externalId` and `meta`: the common attributes (RFC 7643 §3.1).
pub static COMMON_ATTRIBUTES: &[AttrDef] = &[
    AttrDef {
        case_exact: true,
        mutability: Mutability::ReadOnly,
        returned: Returned::Always,
        uniqueness: Uniqueness::Server,
        ..string(
            "id",
            "Unique identifier for the SCIM resource as defined by the service provider.",
        )
    },
    AttrDef {
        case_exact: true,
        ..string(
            "externalId",
            "An identifier for the resource as defined by the provisioning client.",
        )
    },
    AttrDef {
        mutability: Mutability::ReadOnly,
        ..complex(
            "meta",
            "A complex attribute containing resource metadata.",
            false,
            &[
                AttrDef {
                    case_exact: true,
                    mutability: Mutability::ReadOnly,
                    ..string(
                        "resourceType",
                        "The name of the resource type of the resource.",
                    )
                },
                AttrDef {
                    mutability: Mutability::ReadOnly,
                    ..of_type(
                        AttrType::DateTime,
                        "created",
                        "The DateTime that the resource was added to the service provider.",
                    )
                },
                AttrDef {
                    mutability: Mutability::ReadOnly,
                    ..of_type(
                        AttrType::DateTime,
                        "lastModified",
                        "The most recent DateTime that the details of this resource were updated at the service provider.",
                    )
                },
                AttrDef {
                    case_exact: true,
                    mutability: Mutability::ReadOnly,
                    reference_types: &["uri"],
                    ..of_type(
                        AttrType::Reference,
                        "location",
                        "The URI of the resource being returned.",
                    )
                },
                AttrDef {
                    case_exact: true,
                    mutability: Mutability::ReadOnly,
                    ..string("version", "The version of the resource being returned.")
                },
            ],
        )
    },
];

pub static USER_ATTRIBUTES: &[AttrDef] = &[
    AttrDef {
        required: true,
        uniqueness: Uniqueness::Server,
        ..string(
            "userName",
            "Unique identifier for the User, typically used by the user to directly authenticate to the service provider. REQUIRED.",
        )
    },
    complex(
        "name",
        "The components of the user's real name.",
        false,
        &[
            string(
                "formatted",
                "The full name, including all middle names, titles, and suffixes as appropriate, formatted for display.",
            ),
            string("familyName", "The family name of the User, or last name."),
            string("givenName", "The given name of the User, or first name."),
            string("middleName", "The middle name(s) of the User."),
            string(
                "honorificPrefix",
                "The honorific prefix(es) of the User, or title.",
            ),
            string(
                "honorificSuffix",
                "The honorific suffix(es) of the User, or suffix.",
            ),
        ],
    ),
    string(
        "displayName",
        "The name of the User, suitable for display to end-users.",
    ),
    string(
        "nickName",
        "The casual way to address the user in real life.",
    ),
    AttrDef {
        reference_types: &["external"],
        ..of_type(
            AttrType::Reference,
            "profileUrl",
            "A fully qualified URL pointing to a page representing the User's online profile.",
        )
    },
    string("title", "The user's title, such as \"Vice President\"."),
    string(
        "userType",
        "Used to identify the relationship between the organization and the user.",
    ),
    string(
        "preferredLanguage",
        "Indicates the User's preferred written or spoken language.",
    ),
    string(
        "locale",
        "Used to indicate the User's default location for purposes of localizing items such as currency, date time format, or numerical representations.",
    ),
    string(
        "timezone",
        "The User's time zone in the 'Olson' time zone database format, e.g., 'America/Los_Angeles'.",
    ),
    of_type(
        AttrType::Boolean,
        "active",
        "A Boolean value indicating the User's administrative status.",
    ),
    AttrDef {
        mutability: Mutability::WriteOnly,
        returned: Returned::Never,
        ..string(
            "password",
            "The User's cleartext password. Write-only: stored only as an argon2id hash and never returned.",
        )
    },
    complex(
        "emails",
        "Email addresses for the user.",
        true,
        multi_value_subs!(
            string("value", "Email addresses for the user."),
            &["work", "home", "other"]
        ),
    ),
    complex(
        "phoneNumbers",
        "Phone numbers for the User.",
        true,
        multi_value_subs!(
            string("value", "Phone number of the User."),
            &["work", "home", "mobile", "fax", "pager", "other"]
        ),
    ),
    complex(
        "ims",
        "Instant messaging addresses for the User.",
        true,
        multi_value_subs!(
            string("value", "Instant messaging address for the User."),
            &["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"]
        ),
    ),
    complex(
        "photos",
        "URLs of photos of the User.",
        true,
        multi_value_subs!(
            AttrDef {
                reference_types: &["external"],
                ..of_type(AttrType::Reference, "value", "URL of a photo of the User.")
            },
            &["photo", "thumbnail"]
        ),
    ),
    complex(
        "addresses",
        "A physical mailing address for this User.",
        true,
        &[
            string(
                "formatted",
                "The full mailing address, formatted for display or use with a mailing label.",
            ),
            string("streetAddress", "The full street address component."),
            string("locality", "The city or locality component."),
            string("region", "The state or region component."),
            string("postalCode", "The zip code or postal code component."),
            string("country", "The country name component."),
            type_attr(&["work", "home", "other"]),
            primary(),
        ],
    ),
    AttrDef {
        mutability: Mutability::ReadOnly,
        ..complex(
            "groups",
            "A list of groups to which the user belongs, either through direct membership, through nested groups, or dynamically calculated.",
            true,
            &[
                AttrDef {
                    mutability: Mutability::ReadOnly,
                    ..string("value", "The identifier of the User's group.")
                },
                AttrDef {
                    mutability: Mutability::ReadOnly,
                    reference_types: &["User", "Group"],
                    ..of_type(
                        AttrType::Reference,
                        "$ref",
                        "The URI of the corresponding 'Group' resource to which the user belongs.",
                    )
                },
                AttrDef {
                    mutability: Mutability::ReadOnly,
                    ..display()
                },
                AttrDef {
                    mutability: Mutability::ReadOnly,
                    ..type_attr(&["direct", "indirect"])
                },
            ],
        )
    },
    complex(
        "entitlements",
        "A list of entitlements for the User that represent a thing the User has.",
        true,
        multi_value_subs!(string("value", "The value of an entitlement."), &[]),
    ),
    complex(
        "roles",
        "A list of roles for the User that collectively represent who the User is.",
        true,
        multi_value_subs!(string("value", "The value of a role."), &[]),
    ),
    complex(
        "x509Certificates",
        "A list of certificates issued to the User.",
        true,
        multi_value_subs!(
            of_type(
                AttrType::Binary,
                "value",
                "The value of an X.509 certificate."
            ),
            &[]
        ),
    ),
];

pub static ENTERPRISE_USER_ATTRIBUTES: &[AttrDef] = &[
    string(
        "employeeNumber",
        "Numeric or alphanumeric identifier assigned to a person, typically based on order of hire or association with an organization.",
    ),
    string("costCenter", "Identifies the name of a cost center."),
    string("organization", "Identifies the name of an organization."),
    string("division", "Identifies the name of a division."),
    string("department", "Identifies the name of a department."),
    complex(
        "manager",
        "The User's manager.",
        false,
        &[
            string(
                "value",
                "The id of the SCIM resource representing the User's manager.",
            ),
            AttrDef {
                reference_types: &["User"],
                ..of_type(
                    AttrType::Reference,
                    "$ref",
                    "The URI of the SCIM resource representing the User's manager.",
                )
            },
            AttrDef {
                mutability: Mutability::ReadOnly,
                ..string("displayName", "The displayName of the User's manager.")
            },
        ],
    ),
];

pub static GROUP_ATTRIBUTES: &[AttrDef] = &[
    AttrDef {
        required: true,
        ..string(
            "displayName",
            "A human-readable name for the Group. REQUIRED.",
        )
    },
    complex(
        "members",
        "A list of members of the Group.",
        true,
        &[
            AttrDef {
                mutability: Mutability::Immutable,
                case_exact: true,
                ..string("value", "Identifier of the member of this Group.")
            },
            AttrDef {
                mutability: Mutability::Immutable,
                reference_types: &["User", "Group"],
                ..of_type(
                    AttrType::Reference,
                    "$ref",
                    "The URI corresponding to a SCIM resource that is a member of this Group.",
                )
            },
            AttrDef {
                mutability: Mutability::ReadOnly,
                ..display()
            },
            AttrDef {
                mutability: Mutability::Immutable,
                canonical_values: &["User", "Group"],
                ..string(
                    "type",
                    "A label indicating the type of resource, e.g., 'User' or 'Group'.",
                )
            },
        ],
    ),
];

/// A schema: its URN and its attributes.
#[derive(Debug)]
pub struct SchemaDef {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub attributes: &'static [AttrDef],
}

pub static USER_SCHEMA: SchemaDef = SchemaDef {
    id: USER_URN,
    name: "User",
    description: "User Account",
    attributes: USER_ATTRIBUTES,
};

pub static ENTERPRISE_USER_SCHEMA: SchemaDef = SchemaDef {
    id: ENTERPRISE_USER_URN,
    name: "EnterpriseUser",
    description: "Enterprise User",
    attributes: ENTERPRISE_USER_ATTRIBUTES,
};

/// A resource type: its core schema, its extensions and its endpoint.
#[derive(Debug)]
pub struct ResourceTypeDef {
    pub id: &'static str,
    pub name: &'static str,
    pub endpoint: &'static str,
    pub description: &'static str,
    pub core: &'static SchemaDef,
    pub extensions: &'static [&'static SchemaDef],
}

pub static USER_RESOURCE_TYPE: ResourceTypeDef = ResourceTypeDef {
    id: "User",
    name: "User",
    endpoint: "/Users",
    description: "User Account",
    core: &USER_SCHEMA,
    extensions: &[&ENTERPRISE_USER_SCHEMA],
};

pub static GROUP_SCHEMA: SchemaDef = SchemaDef {
    id: GROUP_URN,
    name: "Group",
    description: "Group",
    attributes: GROUP_ATTRIBUTES,
};

pub static GROUP_RESOURCE_TYPE: ResourceTypeDef = ResourceTypeDef {
    id: "Group",
    name: "Group",
    endpoint: "/Groups",
    description: "Group",
    core: &GROUP_SCHEMA,
    extensions: &[],
};

pub static RESOURCE_TYPES: &[&ResourceTypeDef] = &[&USER_RESOURCE_TYPE, &GROUP_RESOURCE_TYPE];

/// Every schema `/Schemas` serves.
pub fn all_schemas() -> Vec<&'static SchemaDef> {
    let mut schemas = Vec::new();
    for rt in RESOURCE_TYPES {
        schemas.push(rt.core);
        schemas.extend(rt.extensions.iter().copied());
    }
    schemas
}

/// A resolved attribute: where it lives in the resource and what it is.
#[derive(Debug, Clone, Copy)]
pub struct AttrRef {
    /// The extension URN the attribute lives under, `None` for core and common attributes.
    pub extension: Option<&'static str>,
    pub attr: &'static AttrDef,
    pub sub: Option<&'static AttrDef>,
}

impl AttrRef {
    /// The attribute whose characteristics apply (the sub-attribute when there is one).
    pub fn leaf(&self) -> &'static AttrDef {
        self.sub.unwrap_or(self.attr)
    }
    /// `name.sub` or `urn:...:name.sub`, for messages.
    pub fn display_name(&self) -> String {
        let mut out = String::new();
        if let Some(ext) = self.extension {
            out.push_str(ext);
            out.push(':');
        }
        out.push_str(self.attr.name);
        if let Some(sub) = self.sub {
            out.push('.');
            out.push_str(sub.name);
        }
        out
    }
    pub fn same_as(&self, other: &AttrRef) -> bool {
        self.extension == other.extension
            && std::ptr::eq(self.attr, other.attr)
            && match (self.sub, other.sub) {
                (None, None) => true,
                (Some(a), Some(b)) => std::ptr::eq(a, b),
                _ => false,
            }
    }
}

/// What an attribute path names in a resource type.
#[derive(Debug, Clone, Copy)]
pub enum PathTarget {
    Attr(AttrRef),
    /// A whole extension object (`urn:...:enterprise:2.0:User`).
    Extension(&'static SchemaDef),
}

impl ResourceTypeDef {
    pub fn extension(&self, urn: &str) -> Option<&'static SchemaDef> {
        self.extensions
            .iter()
            .copied()
            .find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// Resolves `[uri:]name[.sub]` as the filter and path parsers split it.
    /// The parser reads `urn:...:enterprise:2.0:User` as uri `urn:...:2.0` with
    /// name `User`; that is a whole extension, recognised here.
    pub fn resolve(&self, uri: Option<&str>, name: &str, sub: Option<&str>) -> Option<PathTarget> {
        if let Some(uri) = uri {
            if sub.is_none()
                && let Some(ext) = self.extension(&format!("{uri}:{name}"))
            {
                return Some(PathTarget::Extension(ext));
            }
            if let Some(ext) = self.extension(uri) {
                let attr = find_attr(ext.attributes, name)?;
                return Some(PathTarget::Attr(Self::with_sub(Some(ext.id), attr, sub)?));
            }
            if !uri.eq_ignore_ascii_case(self.core.id) {
                return None;
            }
        }
        let attr =
            find_attr(self.core.attributes, name).or_else(|| find_attr(COMMON_ATTRIBUTES, name))?;
        Some(PathTarget::Attr(Self::with_sub(None, attr, sub)?))
    }

    fn with_sub(
        extension: Option<&'static str>,
        attr: &'static AttrDef,
        sub: Option<&str>,
    ) -> Option<AttrRef> {
        let sub = match sub {
            Some(s) => Some(attr.sub(s)?),
            None => None,
        };
        Some(AttrRef {
            extension,
            attr,
            sub,
        })
    }

    /// Resolves a plain attribute (not a whole extension).
    pub fn resolve_attr(
        &self,
        uri: Option<&str>,
        name: &str,
        sub: Option<&str>,
    ) -> Option<AttrRef> {
        match self.resolve(uri, name, sub)? {
            PathTarget::Attr(a) => Some(a),
            PathTarget::Extension(_) => None,
        }
    }

    /// Resolves a dotted, possibly URN-prefixed key as Entra sends it in a
    /// pathless PATCH value (`name.givenName`, `urn:...:User:department`).
    pub fn resolve_key(&self, key: &str) -> Option<PathTarget> {
        if let Some(ext) = self.extension(key) {
            return Some(PathTarget::Extension(ext));
        }
        let (uri, rest) = match key.rsplit_once(':') {
            Some((uri, rest)) => (Some(uri), rest),
            None => (None, key),
        };
        let (name, sub) = match rest.split_once('.') {
            Some((name, sub)) => (name, Some(sub)),
            None => (rest, None),
        };
        self.resolve(uri, name, sub)
    }
}

fn attr_json(attr: &AttrDef) -> Value {
    let mut out = Map::new();
    out.insert("name".into(), json!(attr.name));
    out.insert(
        "type".into(),
        json!(match attr.ty {
            AttrType::String => "string",
            AttrType::Boolean => "boolean",
            AttrType::Decimal => "decimal",
            AttrType::Integer => "integer",
            AttrType::DateTime => "dateTime",
            AttrType::Binary => "binary",
            AttrType::Reference => "reference",
            AttrType::Complex => "complex",
        }),
    );
    out.insert("multiValued".into(), json!(attr.multi_valued));
    out.insert("description".into(), json!(attr.description));
    out.insert("required".into(), json!(attr.required));
    if !attr.canonical_values.is_empty() {
        out.insert("canonicalValues".into(), json!(attr.canonical_values));
    }
    if attr.ty != AttrType::Complex && attr.ty != AttrType::Boolean {
        out.insert("caseExact".into(), json!(attr.case_exact));
    }
    out.insert(
        "mutability".into(),
        json!(match attr.mutability {
            Mutability::ReadOnly => "readOnly",
            Mutability::ReadWrite => "readWrite",
            Mutability::Immutable => "immutable",
            Mutability::WriteOnly => "writeOnly",
        }),
    );
    out.insert(
        "returned".into(),
        json!(match attr.returned {
            Returned::Always => "always",
            Returned::Never => "never",
            Returned::Default => "default",
            Returned::Request => "request",
        }),
    );
    if attr.ty != AttrType::Complex {
        out.insert(
            "uniqueness".into(),
            json!(match attr.uniqueness {
                Uniqueness::None => "none",
                Uniqueness::Server => "server",
            }),
        );
    }
    if !attr.reference_types.is_empty() {
        out.insert("referenceTypes".into(), json!(attr.reference_types));
    }
    if !attr.sub_attributes.is_empty() {
        out.insert(
            "subAttributes".into(),
            Value::Array(attr.sub_attributes.iter().map(attr_json).collect()),
        );
    }
    Value::Object(out)
}

/// RFC 7643 §7: the schema representation `/Schemas/{id}` serves.
pub fn schema_json(schema: &SchemaDef, location: &str) -> Value {
    json!({
        "schemas": [SCHEMA_URN],
        "id": schema.id,
        "name": schema.name,
        "description": schema.description,
        "attributes": schema.attributes.iter().map(attr_json).collect::<Vec<_>>(),
        "meta": {"resourceType": "Schema", "location": location},
    })
}

/// RFC 7643 §6: the representation `/ResourceTypes/{id}` serves.
pub fn resource_type_json(rt: &ResourceTypeDef, location: &str) -> Value {
    json!({
        "schemas": [RESOURCE_TYPE_URN],
        "id": rt.id,
        "name": rt.name,
        "endpoint": rt.endpoint,
        "description": rt.description,
        "schema": rt.core.id,
        "schemaExtensions": rt.extensions.iter().map(|s| json!({"schema": s.id, "required": false})).collect::<Vec<_>>(),
        "meta": {"resourceType": "ResourceType", "location": location},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_core_extension_and_common_attributes() {
        let rt = &USER_RESOURCE_TYPE;
        let a = rt.resolve_attr(None, "USERNAME", None).unwrap();
        assert_eq!(a.attr.name, "userName");
        let a = rt
            .resolve_attr(Some(USER_URN), "name", Some("familyname"))
            .unwrap();
        assert_eq!(a.leaf().name, "familyName");
        let a = rt
            .resolve_attr(Some(ENTERPRISE_USER_URN), "department", None)
            .unwrap();
        assert_eq!(a.extension, Some(ENTERPRISE_USER_URN));
        assert!(
            rt.resolve_attr(None, "meta", Some("lastModified"))
                .is_some()
        );
        assert!(rt.resolve_attr(None, "nosuch", None).is_none());
        assert!(rt.resolve_attr(None, "name", Some("nosuch")).is_none());
        assert!(
            rt.resolve_attr(Some("urn:example:other"), "userName", None)
                .is_none()
        );
        assert!(matches!(
            rt.resolve(
                Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0"),
                "User",
                None
            ),
            Some(PathTarget::Extension(_))
        ));
    }

    #[test]
    fn resolves_entra_keys() {
        let rt = &USER_RESOURCE_TYPE;
        let Some(PathTarget::Attr(a)) = rt.resolve_key("name.givenName") else {
            panic!()
        };
        assert_eq!(a.leaf().name, "givenName");
        let key = format!("{ENTERPRISE_USER_URN}:manager");
        let Some(PathTarget::Attr(a)) = rt.resolve_key(&key) else {
            panic!()
        };
        assert_eq!(a.attr.name, "manager");
        assert!(matches!(
            rt.resolve_key(ENTERPRISE_USER_URN),
            Some(PathTarget::Extension(_))
        ));
    }

    #[test]
    fn schema_json_marks_password_write_only_and_user_name_unique() {
        let v = schema_json(&USER_SCHEMA, "x");
        let attrs = v["attributes"].as_array().unwrap();
        let password = attrs.iter().find(|a| a["name"] == "password").unwrap();
        assert_eq!(password["mutability"], "writeOnly");
        assert_eq!(password["returned"], "never");
        let user_name = attrs.iter().find(|a| a["name"] == "userName").unwrap();
        assert_eq!(user_name["uniqueness"], "server");
        assert_eq!(user_name["caseExact"], false);
        assert_eq!(user_name["required"], true);
    }
}
