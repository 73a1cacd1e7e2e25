package ai.lsntp.config;

import ai.lsntp.alerts.AlertRule;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Builds an {@link LsntpConfig}: the bundled lsntp-default.yaml, then an optional user YAML file
 * (merged key by key), then dotted-key overrides from the command line, then validation.
 */
public final class ConfigLoader {
  public static final String DEFAULT_RESOURCE = "/lsntp-default.yaml";

  private final ObjectMapper yaml;
  private ObjectNode tree;

  public ConfigLoader() {
    yaml = new ObjectMapper(new YAMLFactory());
    yaml.setPropertyNamingStrategy(PropertyNamingStrategies.KEBAB_CASE);
    yaml.enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);
    yaml.enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES);
    try (InputStream in = ConfigLoader.class.getResourceAsStream(DEFAULT_RESOURCE)) {
      tree = (ObjectNode) yaml.readTree(in);
    } catch (IOException e) {
      throw new IllegalStateException("cannot read bundled " + DEFAULT_RESOURCE, e);
    }
  }

  /** Environment variables that set Kafka client properties: LSNTP_KAFKA_SASL_JAAS_CONFIG -> sasl.jaas.config. */
  public static final String KAFKA_ENV_PREFIX = "LSNTP_KAFKA_";

  /**
   * Merges a user YAML file over the defaults (lists, e.g. alerts, replace the default list). A
   * file that holds Kafka credentials must be readable by its owner only.
   */
  public ConfigLoader file(Path file) {
    if (!Files.isRegularFile(file)) {
      throw new ConfigException("--config: no such file " + file);
    }
    try {
      JsonNode user = yaml.readTree(file.toFile());
      if (user != null && !user.isNull()) {
        if (!user.isObject()) {
          throw new ConfigException("--config " + file + ": the top level must be a mapping");
        }
        refuseReadableSecrets(file, user.path("kafka").path("properties"));
        merge(tree, (ObjectNode) user);
      }
    } catch (IOException e) {
      throw new ConfigException("--config " + file + ": not valid YAML: " + e.getMessage(), e);
    }
    return this;
  }

  /** Whether a Kafka client property holds a credential (its value must never be shown or left readable). */
  public static boolean isSecret(String property) {
    String p = property.toLowerCase(java.util.Locale.ROOT);
    return p.contains("jaas") || p.contains("password") || p.contains("secret") || p.endsWith(".key");
  }

  private static void refuseReadableSecrets(Path file, JsonNode kafkaProperties) throws IOException {
    List<String> secrets = new java.util.ArrayList<>();
    kafkaProperties.fieldNames().forEachRemaining(k -> {
      if (isSecret(k)) {
        secrets.add("kafka.properties." + k);
      }
    });
    if (secrets.isEmpty()) {
      return;
    }
    java.util.Set<java.nio.file.attribute.PosixFilePermission> perms;
    try {
      perms = Files.getPosixFilePermissions(file);
    } catch (UnsupportedOperationException e) {
      return; // not a POSIX file system: nothing to check
    }
    if (perms.contains(java.nio.file.attribute.PosixFilePermission.GROUP_READ)
        || perms.contains(java.nio.file.attribute.PosixFilePermission.OTHERS_READ)) {
      throw new ConfigException("--config " + file + " holds Kafka credentials (" + String.join(", ", secrets)
          + ") and other users can read it (" + java.nio.file.attribute.PosixFilePermissions.toString(perms)
          + "): chmod 600 " + file);
    }
  }

  /** Kafka client properties from LSNTP_KAFKA_* environment variables (a Kubernetes Secret, a shell's export). */
  public ConfigLoader environment(Map<String, String> env) {
    env.forEach((name, value) -> {
      if (name.startsWith(KAFKA_ENV_PREFIX) && name.length() > KAFKA_ENV_PREFIX.length()) {
        kafkaProperty(name.substring(KAFKA_ENV_PREFIX.length()).toLowerCase(java.util.Locale.ROOT).replace('_', '.'), value);
      }
    });
    return this;
  }

  /** Sets one dotted key (e.g. stream.allowed-lateness) to a YAML scalar, list or mapping. */
  public ConfigLoader set(String dottedKey, String value) {
    // kafka.properties keys contain dots themselves: everything after "properties." is one key
    if (dottedKey.startsWith("kafka.properties.")) {
      ObjectNode props = tree.with("kafka").with("properties");
      props.put(dottedKey.substring("kafka.properties.".length()), value);
      return this;
    }
    String[] path = dottedKey.split("\\.");
    ObjectNode node = tree;
    for (int i = 0; i < path.length - 1; i++) {
      JsonNode child = node.get(path[i]);
      if (child == null || !child.isObject()) {
        if (child != null && !child.isObject() && !path[i].equals("properties")) {
          throw new ConfigException(dottedKey + ": '" + path[i] + "' is not a section");
        }
        child = node.putObject(path[i]);
      }
      node = (ObjectNode) child;
    }
    String leaf = path[path.length - 1];
    try {
      JsonNode parsed = yaml.readTree(value == null ? "" : value);
      if (parsed == null || parsed.isMissingNode()) {
        node.putNull(leaf);
      } else {
        node.set(leaf, parsed);
      }
    } catch (JsonProcessingException e) {
      node.put(leaf, value);
    }
    return this;
  }

  public ConfigLoader kafkaProperty(String key, String value) {
    tree.with("kafka").with("properties").put(key, value);
    return this;
  }

  public ConfigLoader alerts(List<AlertRule> rules) {
    ArrayNode arr = yaml.valueToTree(rules);
    tree.set("alerts", arr);
    return this;
  }

  public ConfigLoader overrides(Map<String, String> dotted) {
    dotted.forEach(this::set);
    return this;
  }

  /** Binds and validates; a wrong setting throws {@link ConfigException} naming it. */
  public LsntpConfig load() {
    LsntpConfig cfg;
    try {
      cfg = yaml.treeToValue(tree, LsntpConfig.class);
    } catch (UnrecognizedPropertyException e) {
      throw new ConfigException(
          path(e.getPath()) + ": unknown setting (known here: "
              + e.getKnownPropertyIds().stream().map(Object::toString).sorted().collect(Collectors.joining(", "))
              + ")");
    } catch (InvalidFormatException e) {
      throw new ConfigException(path(e.getPath()) + ": '" + e.getValue() + "' is not a valid "
          + e.getTargetType().getSimpleName());
    } catch (MismatchedInputException e) {
      throw new ConfigException(path(e.getPath()) + ": wrong kind of value (" + e.getOriginalMessage() + ")");
    } catch (JsonProcessingException e) {
      throw new ConfigException("configuration: " + e.getOriginalMessage(), e);
    }
    return cfg.validate();
  }

  private static String path(List<com.fasterxml.jackson.databind.JsonMappingException.Reference> refs) {
    StringBuilder sb = new StringBuilder();
    for (com.fasterxml.jackson.databind.JsonMappingException.Reference r : refs) {
      if (r.getFieldName() != null) {
        if (sb.length() > 0) {
          sb.append('.');
        }
        sb.append(r.getFieldName());
      } else if (r.getIndex() >= 0) {
        sb.append('[').append(r.getIndex()).append(']');
      }
    }
    return sb.length() == 0 ? "configuration" : sb.toString();
  }

  private static void merge(ObjectNode base, ObjectNode over) {
    over.fields().forEachRemaining(e -> {
      JsonNode b = base.get(e.getKey());
      if (b != null && b.isObject() && e.getValue().isObject()) {
        merge((ObjectNode) b, (ObjectNode) e.getValue());
      } else {
        base.set(e.getKey(), e.getValue());
      }
    });
  }
}
