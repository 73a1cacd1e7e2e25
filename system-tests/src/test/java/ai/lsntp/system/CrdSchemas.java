package ai.lsntp.system;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.networknt.schema.InputFormat;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The schemas the operators serve (deploy/crds: their CustomResourceDefinitions, copied from
 * their releases), applied to rendered manifests as the API server would with strict field
 * validation: a resource's apiVersion must be a served version of its CRD, and it must match
 * that version's OpenAPI v3 structural schema, unknown fields included (Kubernetes rejects them
 * under kubectl's default strict validation unless x-kubernetes-preserve-unknown-fields says so).
 *
 * <p>A structural schema is JSON Schema draft 4 plus three Kubernetes extensions, translated here
 * before networknt's validator applies it: objects with properties take no other fields unless
 * they preserve unknown fields; x-kubernetes-int-or-string allows an integer or a string;
 * nullable allows null.
 */
final class CrdSchemas {
  private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final SchemaRegistry REGISTRY = SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_4);

  /** group/kind -> version -> schema (served versions only). */
  private final Map<String, Map<String, Schema>> served = new HashMap<>();

  CrdSchemas(Path dir) throws IOException {
    try (Stream<Path> files = Files.list(dir)) {
      for (Path f : files.filter(p -> p.toString().matches(".*\\.ya?ml$")).toList()) {
        JsonNode crd = YAML.readTree(f.toFile());
        String key = crd.at("/spec/group").asText() + "/" + crd.at("/spec/names/kind").asText();
        Map<String, Schema> versions = served.computeIfAbsent(key, k -> new HashMap<>());
        for (JsonNode v : crd.at("/spec/versions")) {
          if (v.path("served").asBoolean()) {
            JsonNode schema = structuralToJsonSchema(withImplicitRootFields(v.at("/schema/openAPIV3Schema").deepCopy()));
            versions.put(v.path("name").asText(), REGISTRY.getSchema(JSON.writeValueAsString(schema), InputFormat.JSON));
          }
        }
      }
    }
  }

  /** Whether a CRD for the resource's group and kind is here. */
  boolean knows(Map<String, Object> resource) {
    return served.containsKey(group((String) resource.get("apiVersion")) + "/" + resource.get("kind"));
  }

  /** Problems of a rendered resource against its CRD, empty when the API server would take it. */
  List<String> problems(Map<String, Object> resource) throws IOException {
    String apiVersion = (String) resource.get("apiVersion");
    String kind = (String) resource.get("kind");
    Map<String, Schema> versions = served.get(group(apiVersion) + "/" + kind);
    if (versions == null) {
      return List.of("no CRD for " + apiVersion + " " + kind + " in deploy/crds");
    }
    String version = apiVersion.substring(apiVersion.indexOf('/') + 1);
    Schema schema = versions.get(version);
    if (schema == null) {
      return List.of(kind + " " + apiVersion + ": the CRD serves only " + versions.keySet());
    }
    List<String> out = new ArrayList<>();
    schema.validate(JSON.writeValueAsString(resource), InputFormat.JSON)
        .forEach(e -> out.add(kind + " " + name(resource) + ": " + e));
    return out;
  }

  private static String group(String apiVersion) {
    return apiVersion.contains("/") ? apiVersion.substring(0, apiVersion.indexOf('/')) : "";
  }

  @SuppressWarnings("unchecked")
  private static String name(Map<String, Object> resource) {
    Object md = resource.get("metadata");
    return md instanceof Map ? String.valueOf(((Map<String, Object>) md).get("name")) : "?";
  }

  /** apiVersion, kind and metadata are allowed at the root of every resource, whether the CRD lists them or not. */
  private static JsonNode withImplicitRootFields(JsonNode root) {
    ObjectNode props = ((ObjectNode) root).with("properties");
    props.putIfAbsent("apiVersion", JsonNodeFactory.instance.objectNode().put("type", "string"));
    props.putIfAbsent("kind", JsonNodeFactory.instance.objectNode().put("type", "string"));
    props.putIfAbsent("metadata", JsonNodeFactory.instance.objectNode().put("type", "object"));
    return root;
  }

  /** Translates the Kubernetes extensions of a structural schema into plain draft-4 JSON Schema, in place. */
  static JsonNode structuralToJsonSchema(JsonNode node) {
    if (!node.isObject()) {
      return node;
    }
    ObjectNode o = (ObjectNode) node;
    for (String child : List.of("items", "additionalProperties", "not")) {
      if (o.get(child) != null && o.get(child).isObject()) {
        structuralToJsonSchema(o.get(child));
      }
    }
    for (String many : List.of("allOf", "anyOf", "oneOf")) {
      if (o.get(many) instanceof ArrayNode a) {
        a.forEach(CrdSchemas::structuralToJsonSchema);
      }
    }
    if (o.get("properties") instanceof ObjectNode props) {
      for (Iterator<JsonNode> it = props.elements(); it.hasNext(); ) {
        structuralToJsonSchema(it.next());
      }
      if (!o.has("additionalProperties") && !o.path("x-kubernetes-preserve-unknown-fields").asBoolean()) {
        o.put("additionalProperties", false);
      }
    }
    if (o.path("x-kubernetes-int-or-string").asBoolean()) {
      o.remove("type");
      ArrayNode either = JsonNodeFactory.instance.arrayNode();
      either.addObject().put("type", "integer");
      either.addObject().put("type", "string");
      if (o.has("anyOf")) {
        ArrayNode all = o.putArray("allOf");
        all.addObject().set("anyOf", o.remove("anyOf"));
        all.addObject().set("anyOf", either);
      } else {
        o.set("anyOf", either);
      }
    }
    if (o.path("nullable").asBoolean() && o.get("type") != null && o.get("type").isTextual()) {
      ArrayNode types = JsonNodeFactory.instance.arrayNode().add(o.get("type").asText()).add("null");
      o.set("type", types);
    }
    return o;
  }
}
