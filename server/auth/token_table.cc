#include "server/auth/token_table.h"

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "yaml-cpp/yaml.h"

namespace quantd::auth {
namespace {

bool IsHex64(const std::string& text) {
  if (text.size() != 64) return false;
  for (char c : text) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

absl::Status EntryError(const std::string& source, const std::string& id,
                        const std::string& reason) {
  return absl::InvalidArgumentError(
      absl::StrCat(source, ": token ", id, ": ", reason));
}

absl::StatusOr<RoleSet> ParseRoles(const YAML::Node& node,
                                   const std::string& source,
                                   const std::string& id) {
  if (!node.IsSequence() || node.size() == 0) {
    return EntryError(source, id, "roles must be a non-empty list");
  }
  RoleSet roles;
  for (const YAML::Node& item : node) {
    if (!item.IsScalar()) return EntryError(source, id, "roles: not a name");
    auto role = ParseRole(item.Scalar());
    if (!role.ok()) {
      return EntryError(source, id,
                        absl::StrCat("roles: ", role.status().message()));
    }
    roles.Add(*role);
  }
  return roles;
}

absl::StatusOr<bool> ParseBool(const YAML::Node& node,
                               const std::string& source,
                               const std::string& id) {
  const std::string text = absl::AsciiStrToLower(node.Scalar());
  if (text == "true") return true;
  if (text == "false") return false;
  return EntryError(source, id, "revoked must be true or false");
}

absl::StatusOr<TokenEntry> ParseEntry(const YAML::Node& node,
                                      const std::string& source,
                                      const std::string& id) {
  if (!node.IsMap()) return EntryError(source, id, "must be a map");
  TokenEntry entry;
  bool has_roles = false;
  for (const auto& field : node) {
    const std::string key = field.first.Scalar();
    const YAML::Node& value = field.second;
    if (key == "roles") {
      QUANTD_ASSIGN_OR_RETURN(entry.roles, ParseRoles(value, source, id));
      has_roles = true;
      continue;
    }
    if (!value.IsScalar()) {
      // Cut like an unknown key: a misindented entry makes a whole token
      // hash the key here, and errors never print one.
      return EntryError(
          source, id,
          absl::StrCat("\"", key.substr(0, 32), "\" must be a scalar"));
    }
    if (key == "tenant") {
      entry.tenant = value.Scalar();
    } else if (key == "expires_at") {
      absl::Time time;
      std::string error;
      if (!absl::ParseTime(absl::RFC3339_full, value.Scalar(), &time, &error)) {
        return EntryError(source, id, "expires_at must be RFC 3339");
      }
      entry.expires_at = time;
    } else if (key == "revoked") {
      QUANTD_ASSIGN_OR_RETURN(entry.revoked, ParseBool(value, source, id));
    } else if (key != "note") {
      return EntryError(
          source, id, absl::StrCat("unknown key \"", key.substr(0, 32), "\""));
    }
  }
  if (!IsValidTenant(entry.tenant)) {
    return EntryError(source, id,
                      "tenant must be 1..63 characters of [a-z0-9._-]");
  }
  if (!has_roles) return EntryError(source, id, "roles are required");
  return entry;
}

absl::StatusOr<std::map<std::string, TokenEntry>> ParseTokens(
    const YAML::Node& tokens, const std::string& source) {
  std::map<std::string, TokenEntry> entries;
  if (tokens.IsNull()) return entries;
  if (!tokens.IsMap()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": tokens must map sha256 hashes to entries"));
  }
  for (const auto& item : tokens) {
    const std::string hash = absl::AsciiStrToLower(item.first.Scalar());
    if (!IsHex64(hash)) {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ": token keys must be 64 hex digits of sha256(token)"));
    }
    const std::string id = TokenIdOf(hash);
    if (entries.size() >= TokenTable::kMaxEntries) {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ": more than ", TokenTable::kMaxEntries, " tokens"));
    }
    QUANTD_ASSIGN_OR_RETURN(TokenEntry entry,
                            ParseEntry(item.second, source, id));
    if (!entries.emplace(hash, std::move(entry)).second) {
      return EntryError(source, id, "listed twice");
    }
  }
  return entries;
}

}  // namespace

std::string TokenIdOf(const std::string& hash_hex) {
  return hash_hex.substr(0, 8);
}

absl::StatusOr<TokenTable> TokenTable::Parse(const std::string& text,
                                             const std::string& source) {
  if (text.size() > kMaxFileBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": larger than ", kMaxFileBytes, " bytes"));
  }
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": not YAML or JSON: ", e.what()));
  }
  if (!root.IsMap()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": top level must be a map with \"tokens\""));
  }
  for (const auto& item : root) {
    const std::string key = item.first.Scalar();
    if (key != "tokens" && key != "version") {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ": unknown top-level key \"", key.substr(0, 32), "\""));
    }
  }
  TokenTable table;
  QUANTD_ASSIGN_OR_RETURN(table.entries_, ParseTokens(root["tokens"], source));
  return table;
}

absl::StatusOr<TokenTable> TokenTable::LoadFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return absl::InvalidArgumentError(absl::StrCat("cannot read ", path));
  }
  std::string text;
  char buffer[1 << 16];
  while (file.read(buffer, sizeof(buffer)) || file.gcount() > 0) {
    text.append(buffer, static_cast<size_t>(file.gcount()));
    if (text.size() > kMaxFileBytes) break;
  }
  return Parse(text, path);
}

const TokenEntry* TokenTable::Find(const std::string& hash_hex) const {
  auto it = entries_.find(hash_hex);
  return it == entries_.end() ? nullptr : &it->second;
}

}  // namespace quantd::auth
