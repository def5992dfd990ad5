// A YAML (or JSON) document loaded with libyaml, and lookups into its mappings and sequences:
// what kubeconfig files and discovery.file's target files need. Not copyable; one thread.
#pragma once

#include <yaml.h>

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace sluice {

// A loaded YAML document and lookups into it.
class YamlDoc {
 public:
  YamlDoc() = default;
  YamlDoc(const YamlDoc&) = delete;
  YamlDoc& operator=(const YamlDoc&) = delete;
  ~YamlDoc() {
    if (loaded_) yaml_document_delete(&doc_);
  }
  absl::Status Load(const std::string& text) {
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) return absl::InternalError("libyaml init failed");
    yaml_parser_set_input_string(&parser, reinterpret_cast<const unsigned char*>(text.data()),
                                 text.size());
    bool ok = yaml_parser_load(&parser, &doc_) != 0;
    std::string problem = parser.problem != nullptr ? parser.problem : "invalid YAML";
    size_t line = parser.problem_mark.line + 1;
    yaml_parser_delete(&parser);
    if (!ok) return absl::InvalidArgumentError(absl::StrCat("line ", line, ": ", problem));
    loaded_ = true;
    return absl::OkStatus();
  }
  yaml_node_t* Root() { return loaded_ ? yaml_document_get_root_node(&doc_) : nullptr; }
  yaml_node_t* Get(yaml_node_t* map, std::string_view key) {
    if (map == nullptr || map->type != YAML_MAPPING_NODE) return nullptr;
    for (yaml_node_pair_t* p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         ++p) {
      yaml_node_t* k = yaml_document_get_node(&doc_, p->key);
      if (k != nullptr && k->type == YAML_SCALAR_NODE && Scalar(k) == key) {
        return yaml_document_get_node(&doc_, p->value);
      }
    }
    return nullptr;
  }
  std::string Str(yaml_node_t* map, std::string_view key) {
    yaml_node_t* n = Get(map, key);
    return n != nullptr && n->type == YAML_SCALAR_NODE ? std::string(Scalar(n)) : "";
  }
  // The element of list `key` whose `name` is `name`: its mapping under `field`.
  yaml_node_t* Named(yaml_node_t* root, std::string_view key, std::string_view name,
                     std::string_view field) {
    yaml_node_t* list = Get(root, key);
    if (list == nullptr || list->type != YAML_SEQUENCE_NODE) return nullptr;
    for (yaml_node_item_t* i = list->data.sequence.items.start; i < list->data.sequence.items.top;
         ++i) {
      yaml_node_t* item = yaml_document_get_node(&doc_, *i);
      if (Str(item, "name") == name) return Get(item, field);
    }
    return nullptr;
  }

  yaml_node_t* Node(int index) { return yaml_document_get_node(&doc_, index); }
  static std::string_view Scalar(yaml_node_t* n) {
    return {reinterpret_cast<const char*>(n->data.scalar.value), n->data.scalar.length};
  }

 private:
  yaml_document_t doc_;
  bool loaded_ = false;
};

}  // namespace sluice
