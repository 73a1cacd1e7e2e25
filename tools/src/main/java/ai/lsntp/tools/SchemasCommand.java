package ai.lsntp.tools;

import ai.lsntp.schemas.SchemaCatalog;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.apache.avro.Schema;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * The published record versions, for subscribers in any language: which records travel on the
 * topics, every version of each with the fingerprint that marks it on the wire, and the schemas
 * themselves (printed, or exported as the file set a reader resolves against).
 */
@Command(name = "schemas", mixinStandardHelpOptions = true,
    description = "List every published record version and its fingerprint; print or export the schemas.",
    footer = {"", "Examples:",
        "  ./lsntp schemas                       every record, version and fingerprint",
        "  ./lsntp schemas Forecast              today's Forecast schema (JSON)",
        "  ./lsntp schemas Forecast:1            Forecast version 1",
        "  ./lsntp schemas --export DIR          every version as DIR/<Record>-v<N>.avsc (the published set)"})
public class SchemasCommand extends ToolCommand {
  @Parameters(arity = "0..1", paramLabel = "RECORD[:VERSION]", description = "Print this record's schema (today's, or VERSION).")
  String which;

  @Option(names = "--export", paramLabel = "DIR", description = "Write every version of every record to DIR as <Record>-v<N>.avsc.")
  Path export;

  @Override
  protected int run() throws Exception {
    SchemaCatalog catalog = SchemaCatalog.builtIn();
    PrintWriter out = spec.commandLine().getOut();
    if (export != null) {
      Path dir = ai.lsntp.config.UserPaths.input(export);
      Files.createDirectories(dir);
      int n = 0;
      for (String record : catalog.records()) {
        for (SchemaCatalog.Version v : catalog.versions(record)) {
          Files.writeString(dir.resolve(record + "-v" + v.number() + ".avsc"), v.schema().toString(true) + "\n");
          n++;
        }
      }
      out.println("wrote " + n + " schema versions to " + dir);
      return 0;
    }
    if (which != null) {
      out.println(version(catalog, which).schema().toString(true));
      return 0;
    }
    out.println("Every value on the lsntp topics is Avro single-object encoded: C3 01, the writer schema's");
    out.println("CRC-64-AVRO fingerprint (8 bytes, little-endian), the record. Fingerprints below as 16 hex digits of the 64-bit value.");
    out.println();
    out.println(String.format(Locale.ROOT, "%-17s %-8s %-17s %s", "record", "version", "fingerprint", "changes from the version before"));
    for (String record : catalog.records()) {
      Schema previous = null;
      for (SchemaCatalog.Version v : catalog.versions(record)) {
        out.println(String.format(Locale.ROOT, "%-17s %-8s %-17s %s", record, "v" + v.number() + (v.current() ? "*" : ""),
            v.fingerprintHex(), previous == null ? "(first)" : changes(previous, v.schema())));
        previous = v.schema();
      }
    }
    out.println();
    out.println("* written today. ./lsntp schemas RECORD[:VERSION] prints one; --export DIR writes them all.");
    return 0;
  }

  private static SchemaCatalog.Version version(SchemaCatalog catalog, String which) {
    String[] parts = which.split(":", 2);
    List<SchemaCatalog.Version> vs = catalog.versions(parts[0]);
    if (vs.isEmpty()) {
      throw ToolException.input("no record named '" + parts[0] + "' (records: " + String.join(", ", catalog.records()) + ")");
    }
    if (parts.length == 1) {
      return catalog.current(parts[0]);
    }
    String n = parts[1].startsWith("v") ? parts[1].substring(1) : parts[1];
    return vs.stream().filter(v -> Integer.toString(v.number()).equals(n)).findFirst()
        .orElseThrow(() -> ToolException.input(parts[0] + " has no version '" + parts[1] + "' (versions 1.."
            + vs.size() + ")"));
  }

  /** Fields added and removed, and enum symbols added, from one version to the next. */
  static String changes(Schema before, Schema after) {
    Set<String> old = new HashSet<>();
    before.getFields().forEach(f -> old.add(f.name()));
    List<String> parts = new ArrayList<>();
    for (Schema.Field f : after.getFields()) {
      if (!old.remove(f.name())) {
        parts.add("+" + f.name());
      } else {
        Schema a = before.getField(f.name()).schema();
        if (a.getType() == Schema.Type.ENUM && f.schema().getType() == Schema.Type.ENUM) {
          List<String> added = new ArrayList<>(f.schema().getEnumSymbols());
          added.removeAll(a.getEnumSymbols());
          added.forEach(sym -> parts.add(f.name() + " +" + sym));
        }
      }
    }
    old.forEach(name -> parts.add("-" + name));
    return parts.isEmpty() ? "(docs only)" : String.join(", ", parts);
  }

  public static void main(String[] args) {
    launch(new SchemasCommand(), args);
  }
}
