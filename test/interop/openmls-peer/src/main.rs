//! openmls interop peer for mimi-gateway's test suite.
//!
//! Reads one JSON command per line on stdin and writes exactly one JSON reply per line on
//! stdout. Logs go to stderr. Byte values are lower-case hex strings. See
//! test/interop/README.md for the protocol.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};

use openmls::ciphersuite::hash_ref::ProposalRef;
use openmls::messages::group_info::{GroupInfo, VerifiableGroupInfo};
use openmls::prelude::tls_codec::Deserialize as _;
use openmls::prelude::*;
use openmls_basic_credential::SignatureKeyPair;
use openmls_rust_crypto::OpenMlsRustCrypto;
use serde_json::{json, Map, Value};

#[cfg(feature = "extensions")]
use openmls::component::ComponentData;

type Res = Result<Value, String>;

struct Client {
    provider: OpenMlsRustCrypto,
    signer: SignatureKeyPair,
    credential_with_key: CredentialWithKey,
    ciphersuite: Ciphersuite,
    capabilities: Capabilities,
    groups: HashMap<Vec<u8>, MlsGroup>,
}

#[derive(Default)]
struct Peer {
    clients: HashMap<String, Client>,
}

// ---------------------------------------------------------------------------------------------
// argument helpers

fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("{e:?}")
}

fn field<'a>(v: &'a Value, k: &str) -> Result<&'a Value, String> {
    v.get(k)
        .filter(|x| !x.is_null())
        .ok_or_else(|| format!("missing field '{k}'"))
}

fn str_arg<'a>(v: &'a Value, k: &str) -> Result<&'a str, String> {
    field(v, k)?
        .as_str()
        .ok_or_else(|| format!("field '{k}' must be a string"))
}

fn opt_str<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(|x| x.as_str())
}

fn hex_arg(v: &Value, k: &str) -> Result<Vec<u8>, String> {
    hex::decode(str_arg(v, k)?).map_err(|e| format!("field '{k}' is not hex: {e}"))
}

fn opt_hex(v: &Value, k: &str) -> Result<Option<Vec<u8>>, String> {
    match opt_str(v, k) {
        None => Ok(None),
        Some(s) => hex::decode(s)
            .map(Some)
            .map_err(|e| format!("field '{k}' is not hex: {e}")),
    }
}

fn u64_arg(v: &Value, k: &str) -> Result<u64, String> {
    field(v, k)?
        .as_u64()
        .ok_or_else(|| format!("field '{k}' must be a non-negative integer"))
}

fn opt_bool(v: &Value, k: &str, default: bool) -> bool {
    v.get(k).and_then(|x| x.as_bool()).unwrap_or(default)
}

fn u16_list(v: &Value, k: &str) -> Result<Vec<u16>, String> {
    match v.get(k) {
        None | Some(Value::Null) => Ok(vec![]),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| {
                x.as_u64()
                    .filter(|n| *n <= u16::MAX as u64)
                    .map(|n| n as u16)
                    .ok_or_else(|| format!("'{k}' must be a list of u16"))
            })
            .collect(),
        _ => Err(format!("'{k}' must be a list of u16")),
    }
}

fn hx(b: impl AsRef<[u8]>) -> Value {
    Value::String(hex::encode(b))
}

fn tls<T: tls_codec::Serialize>(x: &T) -> Result<Vec<u8>, String> {
    x.tls_serialize_detached().map_err(err)
}

/// Numeric value of a 2-byte TLS-encoded enum (ProtocolVersion, VerifiableCiphersuite, ...).
fn tls_u16<T: tls_codec::Serialize>(x: &T) -> u16 {
    let b = x.tls_serialize_detached().unwrap_or_default();
    if b.len() == 2 {
        u16::from_be_bytes([b[0], b[1]])
    } else {
        u16::MAX
    }
}

fn tls_u32<T: tls_codec::Serialize>(x: &T) -> u32 {
    let b = x.tls_serialize_detached().unwrap_or_default();
    if b.len() == 4 {
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    } else {
        u32::MAX
    }
}

// ---------------------------------------------------------------------------------------------
// wire-format conversions

fn wire_format_policy(v: &Value) -> Result<WireFormatPolicy, String> {
    // Default: handshake messages are sent as PublicMessage (the MIMI hub must read commits and
    // proposals), and both PublicMessage and PrivateMessage are accepted.
    match opt_str(v, "wire_format").unwrap_or("mixed_plaintext") {
        "plaintext" => Ok(PURE_PLAINTEXT_WIRE_FORMAT_POLICY),
        "ciphertext" => Ok(PURE_CIPHERTEXT_WIRE_FORMAT_POLICY),
        "mixed_plaintext" => Ok(MIXED_PLAINTEXT_WIRE_FORMAT_POLICY),
        "mixed_ciphertext" => Ok(MIXED_CIPHERTEXT_WIRE_FORMAT_POLICY),
        other => Err(format!(
            "unknown wire_format '{other}' (plaintext|ciphertext|mixed_plaintext|mixed_ciphertext)"
        )),
    }
}

fn join_config(v: &Value) -> Result<MlsGroupJoinConfig, String> {
    Ok(MlsGroupJoinConfig::builder()
        .wire_format_policy(wire_format_policy(v)?)
        .padding_size(v.get("padding").and_then(|x| x.as_u64()).unwrap_or(0) as usize)
        .use_ratchet_tree_extension(opt_bool(v, "ratchet_tree_extension", false))
        .max_past_epochs(
            v.get("max_past_epochs")
                .and_then(|x| x.as_u64())
                .unwrap_or(0) as usize,
        )
        .build())
}

/// `{type, data}` → openmls Extension (known types are parsed, others kept opaque).
fn extension_from_json(e: &Value) -> Result<Extension, String> {
    let ty = u64_arg(e, "type")?;
    if ty > u16::MAX as u64 {
        return Err("extension type must be u16".into());
    }
    let data = hex_arg(e, "data")?;
    let mut bytes = (ty as u16).to_be_bytes().to_vec();
    bytes.extend(tls(&VLBytes::new(data))?);
    Extension::tls_deserialize_exact(&bytes).map_err(|e| format!("extension {ty}: {e:?}"))
}

fn extension_to_json(e: &Extension) -> Result<Value, String> {
    let bytes = tls(e)?;
    // ExtensionType (u16) || opaque extension_data<V>
    let ty = u16::from_be_bytes([bytes[0], bytes[1]]);
    let data = VLBytes::tls_deserialize_exact(&bytes[2..]).map_err(err)?;
    Ok(json!({"type": ty, "data": hx(data.as_slice())}))
}

fn credential_from_json(v: &Value) -> Result<Credential, String> {
    if let Some(id) = opt_str(v, "credential_identity") {
        return Ok(BasicCredential::new(id.as_bytes().to_vec()).into());
    }
    if let Some(id) = opt_hex(v, "credential_identity_hex")? {
        return Ok(BasicCredential::new(id).into());
    }
    Err("external sender needs credential_identity or credential_identity_hex".into())
}

/// Builds group-context extensions from `extensions`, `external_senders` and
/// `required_capabilities` fields of a command.
fn group_context_extensions(v: &Value) -> Result<Extensions<GroupContext>, String> {
    let mut list: Vec<Extension> = vec![];
    if let Some(Value::Array(a)) = v.get("extensions") {
        for e in a {
            list.push(extension_from_json(e)?);
        }
    }
    if let Some(Value::Array(a)) = v.get("external_senders") {
        let mut senders = vec![];
        for s in a {
            let key = hex_arg(s, "signature_key")?;
            senders.push(ExternalSender::new(key.into(), credential_from_json(s)?));
        }
        list.push(Extension::ExternalSenders(senders));
    }
    if let Some(rc) = v.get("required_capabilities").filter(|x| !x.is_null()) {
        let ext: Vec<ExtensionType> = u16_list(rc, "extensions")?
            .into_iter()
            .map(Into::into)
            .collect();
        let props: Vec<ProposalType> = u16_list(rc, "proposals")?
            .into_iter()
            .map(Into::into)
            .collect();
        let creds: Vec<CredentialType> = u16_list(rc, "credentials")?
            .into_iter()
            .map(Into::into)
            .collect();
        list.push(Extension::RequiredCapabilities(
            RequiredCapabilitiesExtension::new(&ext, &props, &creds),
        ));
    }
    Extensions::from_vec(list).map_err(err)
}

fn leaf_extensions(v: &Value, k: &str) -> Result<Extensions<LeafNode>, String> {
    let mut list = vec![];
    if let Some(Value::Array(a)) = v.get(k) {
        for e in a {
            list.push(extension_from_json(e)?);
        }
    }
    Extensions::from_vec(list).map_err(err)
}

fn capabilities_from_json(v: Option<&Value>, suite: Ciphersuite) -> Result<Capabilities, String> {
    let Some(c) = v.filter(|x| !x.is_null()) else {
        return Ok(Capabilities::default());
    };
    let mut b = Capabilities::builder()
        .extensions(
            u16_list(c, "extensions")?
                .into_iter()
                .map(Into::into)
                .collect(),
        )
        .proposals(
            u16_list(c, "proposals")?
                .into_iter()
                .map(Into::into)
                .collect(),
        );
    let creds = u16_list(c, "credentials")?;
    if !creds.is_empty() {
        b = b.credentials(creds.into_iter().map(Into::into).collect());
    }
    let suites = u16_list(c, "ciphersuites")?;
    if !suites.is_empty() {
        let mut cs = vec![];
        for s in suites {
            cs.push(Ciphersuite::try_from(s).map_err(err)?);
        }
        b = b.ciphersuites(cs);
    } else {
        let _ = suite;
    }
    Ok(b.build())
}

fn capabilities_to_json(c: &Capabilities) -> Value {
    json!({
        "versions": c.versions().iter().map(tls_u16).collect::<Vec<_>>(),
        "ciphersuites": c.ciphersuites().iter().map(tls_u16).collect::<Vec<_>>(),
        "extensions": c.extensions().iter().map(|e| u16::from(*e)).collect::<Vec<_>>(),
        "proposals": c.proposals().iter().map(|p| u16::from(*p)).collect::<Vec<_>>(),
        "credentials": c.credentials().iter().map(|p| u16::from(*p)).collect::<Vec<_>>(),
    })
}

fn sender_to_json(s: &Sender) -> Value {
    match s {
        Sender::Member(i) => json!({"type": "member", "leaf_index": i.u32()}),
        Sender::External(i) => json!({"type": "external", "sender_index": tls_u32(i)}),
        Sender::NewMemberProposal => json!({"type": "new_member_proposal"}),
        Sender::NewMemberCommit => json!({"type": "new_member_commit"}),
    }
}

fn credential_identity(c: &Credential) -> Vec<u8> {
    match BasicCredential::try_from(c.clone()) {
        Ok(b) => b.identity().to_vec(),
        Err(_) => c.serialized_content().to_vec(),
    }
}

fn proposal_to_json(p: &Proposal) -> Value {
    let ty = u16::from(p.proposal_type());
    let mut o = json!({"proposal_type": ty});
    match p {
        Proposal::Add(a) => {
            o["identity"] = Value::String(
                String::from_utf8_lossy(&credential_identity(
                    a.key_package().leaf_node().credential(),
                ))
                .into(),
            );
        }
        Proposal::Remove(r) => o["removed"] = json!(r.removed().u32()),
        #[cfg(feature = "extensions")]
        Proposal::AppDataUpdate(u) => {
            o["component_id"] = json!(u.component_id());
            match u.operation() {
                AppDataUpdateOperation::Update(d) => o["data"] = hx(d.as_slice()),
                AppDataUpdateOperation::Remove => o["remove"] = json!(true),
            }
        }
        _ => {}
    }
    o
}

// ---------------------------------------------------------------------------------------------
// message parsing

fn parse_mls_message(bytes: &[u8]) -> Result<MlsMessageBodyIn, String> {
    MlsMessageIn::tls_deserialize_exact(bytes)
        .map(|m| m.extract())
        .map_err(|e| format!("not an MLSMessage: {e:?}"))
}

fn parse_key_package(client: &Client, bytes: &[u8]) -> Result<KeyPackage, String> {
    let kp_in = match KeyPackageIn::tls_deserialize_exact(bytes) {
        Ok(kp) => kp,
        Err(bare_err) => match parse_mls_message(bytes) {
            Ok(MlsMessageBodyIn::KeyPackage(kp)) => kp,
            _ => {
                return Err(format!(
                    "not a KeyPackage (bare or MLSMessage): {bare_err:?}"
                ))
            }
        },
    };
    kp_in
        .validate(client.provider.crypto(), ProtocolVersion::Mls10)
        .map_err(err)
}

fn parse_welcome(bytes: &[u8]) -> Result<Welcome, String> {
    match parse_mls_message(bytes) {
        Ok(MlsMessageBodyIn::Welcome(w)) => Ok(w),
        Ok(_) => Err("MLSMessage is not a Welcome".into()),
        Err(_) => Welcome::tls_deserialize_exact(bytes)
            .map_err(|e| format!("not a Welcome (bare or MLSMessage): {e:?}")),
    }
}

fn parse_group_info(bytes: &[u8]) -> Result<VerifiableGroupInfo, String> {
    match parse_mls_message(bytes) {
        Ok(MlsMessageBodyIn::GroupInfo(g)) => Ok(g),
        Ok(_) => Err("MLSMessage is not a GroupInfo".into()),
        Err(_) => VerifiableGroupInfo::tls_deserialize_exact(bytes)
            .map_err(|e| format!("not a GroupInfo (bare or MLSMessage): {e:?}")),
    }
}

fn parse_ratchet_tree(v: &Value) -> Result<Option<RatchetTreeIn>, String> {
    match opt_hex(v, "ratchet_tree")? {
        None => Ok(None),
        Some(b) => RatchetTreeIn::tls_deserialize_exact(&b)
            .map(Some)
            .map_err(|e| format!("ratchet_tree: {e:?}")),
    }
}

// ---------------------------------------------------------------------------------------------
// output helpers

fn group_summary(group: &MlsGroup) -> Result<Value, String> {
    Ok(json!({
        "group_id": hx(group.group_id().as_slice()),
        "epoch": group.epoch().as_u64(),
        "own_leaf": group.own_leaf_index().u32(),
    }))
}

fn commit_bundle_json(
    group: &MlsGroup,
    commit: MlsMessageOut,
    welcome: Option<MlsMessageOut>,
    group_info: Option<GroupInfo>,
) -> Result<Value, String> {
    let mut o = json!({
        "commit": hx(commit.to_bytes().map_err(err)?),
        "welcome": Value::Null,
        "group_info": Value::Null,
    });
    if let Some(w) = welcome {
        o["welcome"] = hx(w.to_bytes().map_err(err)?);
    }
    if let Some(gi) = group_info {
        o["group_info"] = hx(MlsMessageOut::from(gi).to_bytes().map_err(err)?);
    }
    let _ = group;
    Ok(o)
}

impl Peer {
    fn client(&mut self, v: &Value) -> Result<&mut Client, String> {
        let name = str_arg(v, "name")?;
        self.clients
            .get_mut(name)
            .ok_or_else(|| format!("no client named '{name}'"))
    }

    fn handle(&mut self, v: &Value) -> Res {
        let cmd = str_arg(v, "cmd")?;
        match cmd {
            "hello" | "features" => Ok(features()),
            "new_client" => self.new_client(v),
            "drop_client" => {
                let name = str_arg(v, "name")?;
                self.clients.remove(name);
                Ok(json!({}))
            }
            "key_package" => self.client(v)?.key_package(v),
            "create_group" => self.client(v)?.create_group(v),
            "add" => {
                let c = self.client(v)?;
                let mut kps = vec![];
                for k in field(v, "key_packages")?
                    .as_array()
                    .ok_or("key_packages must be a list")?
                {
                    let b = hex::decode(k.as_str().ok_or("key_packages must be hex strings")?)
                        .map_err(err)?;
                    kps.push(parse_key_package(c, &b)?);
                }
                c.commit(v, |b| b.propose_adds(kps))
            }
            "remove" => {
                let c = self.client(v)?;
                let idx: Vec<LeafNodeIndex> = field(v, "leaf_indices")?
                    .as_array()
                    .ok_or("leaf_indices must be a list")?
                    .iter()
                    .map(|x| x.as_u64().map(|n| LeafNodeIndex::new(n as u32)))
                    .collect::<Option<_>>()
                    .ok_or("leaf_indices must be integers")?;
                c.commit(v, |b| b.propose_removals(idx))
            }
            "self_update" => self.client(v)?.commit(v, |b| b.force_self_update(true)),
            "update_extensions" => {
                let ext = group_context_extensions(v)?;
                let c = self.client(v)?;
                c.commit(v, |b| {
                    b.propose_group_context_extensions(ext)
                        .expect("propose_group_context_extensions never fails in 0.9.2")
                })
            }
            "commit" | "commit_pending" => self.client(v)?.commit(v, |b| b),
            "merge_pending" => {
                let c = self.client(v)?;
                let provider = &c.provider;
                let g = group_mut(&mut c.groups, v)?;
                g.merge_pending_commit(provider).map_err(err)?;
                group_summary(g)
            }
            "clear_pending" => {
                let c = self.client(v)?;
                let provider = &c.provider;
                let g = group_mut(&mut c.groups, v)?;
                g.clear_pending_commit(provider.storage()).map_err(err)?;
                g.clear_pending_proposals(provider.storage()).map_err(err)?;
                group_summary(g)
            }
            "propose_add" => {
                let c = self.client(v)?;
                let kp = parse_key_package(c, &hex_arg(v, "key_package")?)?;
                let (provider, signer) = (&c.provider, &c.signer);
                let g = group_mut(&mut c.groups, v)?;
                let (m, r) = g.propose_add_member(provider, signer, &kp).map_err(err)?;
                proposal_reply(m, r)
            }
            "propose_remove" => {
                let c = self.client(v)?;
                let idx = LeafNodeIndex::new(u64_arg(v, "leaf_index")? as u32);
                let (provider, signer) = (&c.provider, &c.signer);
                let g = group_mut(&mut c.groups, v)?;
                let (m, r) = g
                    .propose_remove_member(provider, signer, idx)
                    .map_err(err)?;
                proposal_reply(m, r)
            }
            "propose_self_update" => {
                let c = self.client(v)?;
                let (provider, signer) = (&c.provider, &c.signer);
                let g = group_mut(&mut c.groups, v)?;
                let (m, r) = g
                    .propose_self_update(provider, signer, LeafNodeParameters::default())
                    .map_err(err)?;
                proposal_reply(m, r)
            }
            "propose_extensions" => {
                let ext = group_context_extensions(v)?;
                let c = self.client(v)?;
                let (provider, signer) = (&c.provider, &c.signer);
                let g = group_mut(&mut c.groups, v)?;
                let (m, r) = g
                    .propose_group_context_extensions(provider, ext, signer)
                    .map_err(err)?;
                proposal_reply(m, r)
            }
            "propose_leave" => {
                // RFC 9420 Remove proposal for the own leaf.
                let c = self.client(v)?;
                let (provider, signer) = (&c.provider, &c.signer);
                let g = group_mut(&mut c.groups, v)?;
                let m = g.leave_group(provider, signer).map_err(err)?;
                Ok(json!({"proposal": hx(m.to_bytes().map_err(err)?)}))
            }
            "propose_self_remove" => {
                // SelfRemove proposal (type 0x000a, draft-ietf-mls-extensions); PublicMessage only.
                let c = self.client(v)?;
                let (provider, signer) = (&c.provider, &c.signer);
                let g = group_mut(&mut c.groups, v)?;
                let m = g
                    .leave_group_via_self_remove(provider, signer)
                    .map_err(err)?;
                Ok(json!({"proposal": hx(m.to_bytes().map_err(err)?)}))
            }
            #[cfg(feature = "extensions")]
            "propose_app_data_update" => {
                let c = self.client(v)?;
                let component = u64_arg(v, "component_id")? as u16;
                let op = app_data_op(v)?;
                let (provider, signer) = (&c.provider, &c.signer);
                let g = group_mut(&mut c.groups, v)?;
                let (m, r) = g
                    .propose_app_data_update(provider, signer, component, op)
                    .map_err(err)?;
                proposal_reply(m, r)
            }
            "encrypt" => {
                let c = self.client(v)?;
                let pt = hex_arg(v, "plaintext")?;
                let aad = opt_hex(v, "aad")?;
                let (provider, signer) = (&c.provider, &c.signer);
                let g = group_mut(&mut c.groups, v)?;
                if let Some(aad) = aad {
                    g.set_aad(aad);
                }
                let m = g.create_message(provider, signer, &pt).map_err(err)?;
                Ok(json!({"message": hx(m.to_bytes().map_err(err)?)}))
            }
            "process" => self.client(v)?.process(v),
            "join_welcome" => self.client(v)?.join_welcome(v),
            "join_external" => self.client(v)?.join_external(v),
            "group_info" => {
                let c = self.client(v)?;
                let with_tree = opt_bool(v, "ratchet_tree_extension", false);
                let (provider, signer) = (&c.provider, &c.signer);
                let g = group_mut(&mut c.groups, v)?;
                let m = g
                    .export_group_info(provider.crypto(), signer, with_tree)
                    .map_err(err)?;
                let bytes = m.to_bytes().map_err(err)?;
                Ok(json!({
                    "group_info": hx(&bytes),
                    "ratchet_tree": hx(tls(&g.export_ratchet_tree())?),
                }))
            }
            "ratchet_tree" => {
                let c = self.client(v)?;
                let g = group_mut(&mut c.groups, v)?;
                Ok(json!({"ratchet_tree": hx(tls(&g.export_ratchet_tree())?)}))
            }
            "export_secret" => {
                let c = self.client(v)?;
                let label = str_arg(v, "label")?.to_string();
                let context = opt_hex(v, "context")?.unwrap_or_default();
                let length = u64_arg(v, "length")? as usize;
                let provider = &c.provider;
                let g = group_mut(&mut c.groups, v)?;
                let s = g
                    .export_secret(provider.crypto(), &label, &context, length)
                    .map_err(err)?;
                Ok(json!({"secret": hx(s)}))
            }
            "state" => {
                let c = self.client(v)?;
                let g = group_mut(&mut c.groups, v)?;
                group_state(g)
            }
            "groups" => {
                let c = self.client(v)?;
                let ids: Vec<Value> = c.groups.keys().map(hx).collect();
                Ok(json!({"group_ids": ids}))
            }
            other => Err(format!("unknown command '{other}'")),
        }
    }

    fn new_client(&mut self, v: &Value) -> Res {
        let name = str_arg(v, "name")?.to_string();
        let identity = match opt_str(v, "identity") {
            Some(s) => s.as_bytes().to_vec(),
            None => hex_arg(v, "identity_hex")?,
        };
        let suite_id = v.get("suite").and_then(|x| x.as_u64()).unwrap_or(1) as u16;
        let ciphersuite = Ciphersuite::try_from(suite_id).map_err(err)?;
        let provider = OpenMlsRustCrypto::default();
        provider.crypto().supports(ciphersuite).map_err(err)?;
        let signer = SignatureKeyPair::new(ciphersuite.signature_algorithm()).map_err(err)?;
        signer.store(provider.storage()).map_err(err)?;
        let credential: Credential = BasicCredential::new(identity.clone()).into();
        let credential_with_key = CredentialWithKey {
            credential,
            signature_key: signer.public().into(),
        };
        let capabilities = capabilities_from_json(v.get("capabilities"), ciphersuite)?;
        let reply = json!({
            "identity_hex": hx(&identity),
            "signature_key": hx(signer.public()),
            "capabilities": capabilities_to_json(&capabilities),
        });
        self.clients.insert(
            name,
            Client {
                provider,
                signer,
                credential_with_key,
                ciphersuite,
                capabilities,
                groups: HashMap::new(),
            },
        );
        Ok(reply)
    }
}

fn features() -> Value {
    json!({
        "openmls": "0.9.2",
        "extensions_draft": cfg!(feature = "extensions"),
        "ciphersuites": [1, 2, 3],
    })
}

fn proposal_reply(m: MlsMessageOut, r: ProposalRef) -> Res {
    Ok(json!({"proposal": hx(m.to_bytes().map_err(err)?), "proposal_ref": hx(r.as_slice())}))
}

#[cfg(feature = "extensions")]
fn app_data_op(v: &Value) -> Result<AppDataUpdateOperation, String> {
    if opt_bool(v, "remove", false) {
        Ok(AppDataUpdateOperation::Remove)
    } else {
        Ok(AppDataUpdateOperation::Update(hex_arg(v, "data")?.into()))
    }
}

fn group_mut<'a>(
    groups: &'a mut HashMap<Vec<u8>, MlsGroup>,
    v: &Value,
) -> Result<&'a mut MlsGroup, String> {
    let id = hex_arg(v, "group_id")?;
    groups
        .get_mut(&id)
        .ok_or_else(|| format!("client has no group {}", hex::encode(&id)))
}

fn group_state(g: &MlsGroup) -> Res {
    let members: Vec<Value> = g
        .members()
        .map(|m| {
            let id = credential_identity(&m.credential);
            json!({
                "leaf_index": m.index.u32(),
                "identity": String::from_utf8_lossy(&id),
                "identity_hex": hx(&id),
                "credential_type": u16::from(m.credential.credential_type()),
                "signature_key": hx(&m.signature_key),
                "encryption_key": hx(&m.encryption_key),
            })
        })
        .collect();
    let ctx = g.public_group().group_context();
    let exts: Vec<Value> = ctx
        .extensions()
        .iter()
        .map(extension_to_json)
        .collect::<Result<_, _>>()?;
    let pending: Vec<Value> = g
        .pending_proposals()
        .map(|p| {
            let mut o = proposal_to_json(p.proposal());
            o["sender"] = sender_to_json(p.sender());
            o["proposal_ref"] = hx(p.proposal_reference_ref().as_slice());
            o
        })
        .collect();
    let own_leaf = g.own_leaf_node();
    Ok(json!({
        "group_id": hx(g.group_id().as_slice()),
        "epoch": g.epoch().as_u64(),
        "ciphersuite": u16::from(g.ciphersuite()),
        "own_leaf": g.own_leaf_index().u32(),
        "active": g.is_active(),
        "members": members,
        "extensions": exts,
        "group_context": hx(tls(ctx)?),
        "tree_hash": hx(ctx.tree_hash()),
        "confirmed_transcript_hash": hx(ctx.confirmed_transcript_hash()),
        "epoch_authenticator": hx(g.epoch_authenticator().as_slice()),
        "ratchet_tree": hx(tls(&g.export_ratchet_tree())?),
        "pending_proposals": pending,
        "has_pending_commit": g.pending_commit().is_some(),
        "own_capabilities": own_leaf.map(|l| capabilities_to_json(l.capabilities())),
    }))
}

impl Client {
    fn key_package(&mut self, v: &Value) -> Res {
        let mut kp_ext: Vec<Extension> = vec![];
        if let Some(Value::Array(a)) = v.get("extensions") {
            for e in a {
                kp_ext.push(extension_from_json(e)?);
            }
        }
        let mut b = KeyPackage::builder()
            .leaf_node_capabilities(self.capabilities.clone())
            .leaf_node_extensions(leaf_extensions(v, "leaf_extensions")?)
            .key_package_extensions(Extensions::from_vec(kp_ext).map_err(err)?);
        if opt_bool(v, "last_resort", false) {
            b = b.mark_as_last_resort();
        }
        let bundle = b
            .build(
                self.ciphersuite,
                &self.provider,
                &self.signer,
                self.credential_with_key.clone(),
            )
            .map_err(err)?;
        let kp = bundle.key_package().clone();
        let r = kp.hash_ref(self.provider.crypto()).map_err(err)?;
        Ok(json!({
            "key_package": hx(tls(&kp)?),
            "mls_message": hx(MlsMessageOut::from(kp).to_bytes().map_err(err)?),
            "key_package_ref": hx(r.as_slice()),
        }))
    }

    fn create_group(&mut self, v: &Value) -> Res {
        let group_id = hex_arg(v, "group_id")?;
        let jc = join_config(v)?;
        let cfg = MlsGroupCreateConfig::builder()
            .ciphersuite(self.ciphersuite)
            .capabilities(self.capabilities.clone())
            .wire_format_policy(jc.wire_format_policy())
            .padding_size(jc.padding_size())
            .use_ratchet_tree_extension(opt_bool(v, "ratchet_tree_extension", false))
            .max_past_epochs(
                v.get("max_past_epochs")
                    .and_then(|x| x.as_u64())
                    .unwrap_or(0) as usize,
            )
            .with_group_context_extensions(group_context_extensions(v)?)
            .with_leaf_node_extensions(leaf_extensions(v, "leaf_extensions")?)
            .map_err(err)?
            .build();
        let group = MlsGroup::new_with_group_id(
            &self.provider,
            &self.signer,
            &cfg,
            GroupId::from_slice(&group_id),
            self.credential_with_key.clone(),
        )
        .map_err(err)?;
        let out = group_summary(&group)?;
        self.groups.insert(group_id, group);
        Ok(out)
    }

    /// Builds, stages and (unless `merge: false`) merges a commit. `extra` adds the
    /// command-specific proposals; generic fields of `v` add more:
    /// `adds` (KeyPackages), `removes` (leaf indices), `app_data_updates`,
    /// `force_self_update`, `consume_pending` (default true), `ratchet_tree_extension`.
    fn commit(
        &mut self,
        v: &Value,
        extra: impl FnOnce(CommitBuilder<'_, Initial>) -> CommitBuilder<'_, Initial>,
    ) -> Res {
        let mut adds = vec![];
        if let Some(Value::Array(a)) = v.get("adds") {
            for k in a {
                let b = hex::decode(k.as_str().ok_or("adds must be hex strings")?).map_err(err)?;
                adds.push(parse_key_package(self, &b)?);
            }
        }
        let removes: Vec<LeafNodeIndex> = match v.get("removes") {
            Some(Value::Array(a)) => a
                .iter()
                .map(|x| x.as_u64().map(|n| LeafNodeIndex::new(n as u32)))
                .collect::<Option<_>>()
                .ok_or("removes must be a list of leaf indices")?,
            _ => vec![],
        };
        #[cfg(feature = "extensions")]
        let app_data: Vec<Proposal> = match v.get("app_data_updates") {
            Some(Value::Array(a)) => a
                .iter()
                .map(|u| {
                    Ok(Proposal::AppDataUpdate(Box::new(
                        if opt_bool(u, "remove", false) {
                            AppDataUpdateProposal::remove(u64_arg(u, "component_id")? as u16)
                        } else {
                            AppDataUpdateProposal::update(
                                u64_arg(u, "component_id")? as u16,
                                hex_arg(u, "data")?,
                            )
                        },
                    )))
                })
                .collect::<Result<_, String>>()?,
            _ => vec![],
        };
        #[cfg(not(feature = "extensions"))]
        if v.get("app_data_updates").is_some() {
            return Err("app_data_updates needs the peer built with --features extensions".into());
        }
        let merge = opt_bool(v, "merge", true);
        let rt_ext = v.get("ratchet_tree_extension").and_then(|x| x.as_bool());
        let (provider, signer) = (&self.provider, &self.signer);
        let g = group_mut(&mut self.groups, v)?;
        let mut b = g
            .commit_builder()
            .consume_proposal_store(opt_bool(v, "consume_pending", true))
            .force_self_update(opt_bool(v, "force_self_update", false));
        if !adds.is_empty() {
            b = b.propose_adds(adds);
        }
        if !removes.is_empty() {
            b = b.propose_removals(removes);
        }
        #[cfg(feature = "extensions")]
        {
            b = b.add_proposals(app_data);
        }
        b = extra(b);
        let mut b = b.load_psks(provider.storage()).map_err(err)?;
        if let Some(x) = rt_ext {
            b = b.use_ratchet_tree_extension(x);
        }
        // Group info is always produced so tests can hand it to external joiners.
        b = b.create_group_info(true);
        #[cfg(feature = "extensions")]
        {
            let ops: Vec<(u16, Option<Vec<u8>>)> = b
                .app_data_update_proposals()
                .map(|p| {
                    (
                        p.component_id(),
                        match p.operation() {
                            AppDataUpdateOperation::Update(d) => Some(d.as_slice().to_vec()),
                            AppDataUpdateOperation::Remove => None,
                        },
                    )
                })
                .collect();
            if !ops.is_empty() {
                let mut updater = b.app_data_dictionary_updater();
                apply_app_data_ops(&mut updater, ops);
                let changes = updater.changes();
                b.with_app_data_dictionary_updates(changes);
            }
        }
        let bundle = b
            .build(provider.rand(), provider.crypto(), signer, |_| true)
            .map_err(err)?
            .stage_commit(provider)
            .map_err(err)?;
        let welcome = bundle.to_welcome_msg();
        let (commit, _, group_info) = bundle.into_contents();
        let mut out = commit_bundle_json(g, commit, welcome, group_info)?;
        if merge {
            g.merge_pending_commit(provider).map_err(err)?;
        }
        out["epoch"] = json!(g.epoch().as_u64());
        out["merged"] = json!(merge);
        out["ratchet_tree"] = hx(tls(&g.export_ratchet_tree())?);
        Ok(out)
    }

    fn join_welcome(&mut self, v: &Value) -> Res {
        let welcome = parse_welcome(&hex_arg(v, "welcome")?)?;
        let tree = parse_ratchet_tree(v)?;
        let jc = join_config(v)?;
        let staged =
            StagedWelcome::new_from_welcome(&self.provider, &jc, welcome, tree).map_err(err)?;
        let group = staged.into_group(&self.provider).map_err(err)?;
        let out = group_summary(&group)?;
        self.groups.insert(group.group_id().to_vec(), group);
        Ok(out)
    }

    fn join_external(&mut self, v: &Value) -> Res {
        let gi = parse_group_info(&hex_arg(v, "group_info")?)?;
        let tree = parse_ratchet_tree(v)?;
        let mut builder = MlsGroup::external_commit_builder().with_config(join_config(v)?);
        if let Some(t) = tree {
            builder = builder.with_ratchet_tree(t);
        }
        if let Some(aad) = opt_hex(v, "aad")? {
            builder = builder.with_aad(aad);
        }
        let params = LeafNodeParameters::builder()
            .with_capabilities(self.capabilities.clone())
            .with_extensions(leaf_extensions(v, "leaf_extensions")?)
            .build();
        #[allow(unused_mut)]
        let mut cb = builder
            .build_group(&self.provider, gi, self.credential_with_key.clone())
            .map_err(err)?
            .leaf_node_parameters(params);
        #[cfg(feature = "extensions")]
        if let Some(Value::Array(a)) = v.get("app_data_updates") {
            for u in a {
                let id = u64_arg(u, "component_id")? as u16;
                cb = cb.add_app_data_update_proposal(if opt_bool(u, "remove", false) {
                    AppDataUpdateProposal::remove(id)
                } else {
                    AppDataUpdateProposal::update(id, hex_arg(u, "data")?)
                });
            }
        }
        #[allow(unused_mut)]
        let mut cb = cb.load_psks(self.provider.storage()).map_err(err)?;
        #[cfg(feature = "extensions")]
        {
            let ops: Vec<(u16, Option<Vec<u8>>)> = cb
                .app_data_update_proposals()
                .map(|p| {
                    (
                        p.component_id(),
                        match p.operation() {
                            AppDataUpdateOperation::Update(d) => Some(d.as_slice().to_vec()),
                            AppDataUpdateOperation::Remove => None,
                        },
                    )
                })
                .collect();
            if !ops.is_empty() {
                let mut updater = cb.app_data_dictionary_updater();
                apply_app_data_ops(&mut updater, ops);
                let changes = updater.changes();
                cb.with_app_data_dictionary_updates(changes);
            }
        }
        let (group, bundle) = cb
            .build(
                self.provider.rand(),
                self.provider.crypto(),
                &self.signer,
                |_| true,
            )
            .map_err(err)?
            .finalize(&self.provider)
            .map_err(err)?;
        let (commit, _, group_info) = bundle.into_contents();
        let mut out = commit_bundle_json(&group, commit, None, group_info)?;
        out["group_id"] = hx(group.group_id().as_slice());
        out["epoch"] = json!(group.epoch().as_u64());
        out["own_leaf"] = json!(group.own_leaf_index().u32());
        out["ratchet_tree"] = hx(tls(&group.export_ratchet_tree())?);
        self.groups.insert(group.group_id().to_vec(), group);
        Ok(out)
    }

    fn process(&mut self, v: &Value) -> Res {
        let bytes = hex_arg(v, "message")?;
        let msg = MlsMessageIn::tls_deserialize_exact(&bytes).map_err(err)?;
        let pm = msg.try_into_protocol_message().map_err(err)?;
        let gid = pm.group_id().to_vec();
        let store = opt_bool(v, "store_proposals", true);
        let merge = opt_bool(v, "merge", true);
        let provider = &self.provider;
        let g = self
            .groups
            .get_mut(&gid)
            .ok_or_else(|| format!("client has no group {}", hex::encode(&gid)))?;
        let processed = g.process_message(provider, pm).map_err(err)?;
        let sender = sender_to_json(processed.sender());
        let sender_leaf = match processed.sender() {
            Sender::Member(i) => json!(i.u32()),
            _ => Value::Null,
        };
        let identity = credential_identity(processed.credential());
        let mut out = json!({
            "epoch": processed.epoch().as_u64(),
            "sender": sender,
            "sender_leaf": sender_leaf,
            "sender_identity": String::from_utf8_lossy(&identity),
            "aad": hx(processed.aad()),
        });
        #[cfg(feature = "extensions")]
        let processed = match processed.content() {
            ProcessedMessageContent::UnresolvedAppDataCommit(u) => {
                // Peer semantics for AppDataUpdate: Update(data) replaces the component's
                // entry with `data`, Remove deletes it.
                let ops: Vec<(u16, Option<Vec<u8>>)> = u
                    .app_data_update_proposals()
                    .map(|p| {
                        (
                            p.component_id(),
                            match p.operation() {
                                AppDataUpdateOperation::Update(d) => Some(d.as_slice().to_vec()),
                                AppDataUpdateOperation::Remove => None,
                            },
                        )
                    })
                    .collect();
                let mut updater = g.app_data_dictionary_updater();
                apply_app_data_ops(&mut updater, ops);
                let changes = updater.changes();
                g.resolve_app_data_commit(provider, processed, changes)
                    .map_err(err)?
            }
            _ => processed,
        };
        match processed.into_content() {
            ProcessedMessageContent::ApplicationMessage(a) => {
                out["kind"] = json!("application");
                out["plaintext"] = hx(a.into_bytes());
            }
            ProcessedMessageContent::ProposalMessage(p) => {
                out["kind"] = json!("proposal");
                let o = proposal_to_json(p.proposal());
                out["proposal"] = o;
                out["proposal_ref"] = hx(p.proposal_reference_ref().as_slice());
                if store {
                    g.store_pending_proposal(provider.storage(), *p)
                        .map_err(err)?;
                }
                out["stored"] = json!(store);
            }
            ProcessedMessageContent::ExternalJoinProposalMessage(p) => {
                out["kind"] = json!("external_join_proposal");
                out["proposal"] = proposal_to_json(p.proposal());
                out["proposal_ref"] = hx(p.proposal_reference_ref().as_slice());
                if store {
                    g.store_pending_proposal(provider.storage(), *p)
                        .map_err(err)?;
                }
                out["stored"] = json!(store);
            }
            ProcessedMessageContent::StagedCommitMessage(sc) => {
                out["kind"] = json!("commit");
                let props: Vec<Value> = sc
                    .queued_proposals()
                    .map(|p| {
                        let mut o = proposal_to_json(p.proposal());
                        o["sender"] = sender_to_json(p.sender());
                        o
                    })
                    .collect();
                out["proposals"] = json!(props);
                out["has_path"] = json!(sc.update_path_leaf_node().is_some());
                out["self_removed"] = json!(sc.self_removed());
                if merge {
                    g.merge_staged_commit(provider, *sc).map_err(err)?;
                }
                out["merged"] = json!(merge);
                out["new_epoch"] = json!(g.epoch().as_u64());
            }
            ProcessedMessageContent::OwnPendingCommit => {
                out["kind"] = json!("own_commit");
                if merge {
                    g.merge_pending_commit(provider).map_err(err)?;
                }
                out["merged"] = json!(merge);
                out["new_epoch"] = json!(g.epoch().as_u64());
            }
            ProcessedMessageContent::OwnPrivateMessage => {
                out["kind"] = json!("own_private_message");
            }
            #[allow(unreachable_patterns)]
            _ => {
                out["kind"] = json!("other");
            }
        }
        Ok(out)
    }
}

#[cfg(feature = "extensions")]
fn apply_app_data_ops(
    updater: &mut openmls::group::AppDataDictionaryUpdater<'_>,
    ops: Vec<(u16, Option<Vec<u8>>)>,
) {
    for (id, data) in ops {
        match data {
            Some(d) => updater.set(ComponentData::from_parts(id, d.into())),
            None => updater.remove(&id),
        }
    }
}

fn main() {
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let mut peer = Peer::default();
    // Panics are caught and reported as errors; keep the default hook's message on stderr.
    for line in stdin.lock().lines() {
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                eprintln!("openmls-peer: stdin error: {e}");
                break;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        let reply = match serde_json::from_str::<Value>(&line) {
            Err(e) => json!({"error": format!("bad JSON: {e}")}),
            Ok(v) => {
                let id = v.get("id").cloned();
                let cmd = v
                    .get("cmd")
                    .and_then(|c| c.as_str())
                    .unwrap_or("?")
                    .to_string();
                let r = catch_unwind(AssertUnwindSafe(|| peer.handle(&v)));
                let mut reply = match r {
                    Ok(Ok(Value::Object(m))) => {
                        let mut m: Map<String, Value> = m;
                        m.insert("ok".into(), json!(true));
                        Value::Object(m)
                    }
                    Ok(Ok(other)) => json!({"ok": true, "value": other}),
                    Ok(Err(e)) => {
                        eprintln!("openmls-peer: {cmd}: error: {e}");
                        json!({"error": e})
                    }
                    Err(p) => {
                        let msg = p
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_else(|| "panic".into());
                        json!({"error": format!("panic: {msg}")})
                    }
                };
                if let Some(id) = id {
                    reply["id"] = id;
                }
                reply
            }
        };
        let mut out = stdout.lock();
        let _ = writeln!(out, "{reply}");
        let _ = out.flush();
    }
}
