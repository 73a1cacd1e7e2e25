package ai.lsntp.tools;

import static org.assertj.core.api.Assertions.assertThat;

import ai.lsntp.schemas.SchemaCatalog;
import ai.lsntp.testing.Cli;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.avro.Schema;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SchemasCommandTest {
  @TempDir Path tmp;

  @Test
  void listsEveryVersionWithItsFingerprintAndWhatChanged() {
    Cli c = Cli.run(new SchemasCommand());
    assertThat(c.exit).isZero();
    SchemaCatalog catalog = SchemaCatalog.builtIn();
    for (String record : catalog.records()) {
      for (SchemaCatalog.Version v : catalog.versions(record)) {
        assertThat(c.out).containsPattern(record + "\\s+v" + v.number() + (v.current() ? "\\*" : " ") + "\\s+"
            + v.fingerprintHex());
      }
    }
    assertThat(c.out).containsPattern("TemperatureFrame\\s+v2[* ]\\s+\\w+\\s+\\+units, \\+missing_mask, \\+fill_value");
  }

  @Test
  void printsOneVersionAndExportsThePublishedSet() throws Exception {
    Cli v1 = Cli.run(new SchemasCommand(), "TemperatureFrame:1");
    assertThat(v1.exit).isZero();
    Schema printed = new Schema.Parser().parse(v1.out);
    assertThat(SchemaCatalog.fingerprint(printed))
        .isEqualTo(SchemaCatalog.builtIn().versions("TemperatureFrame").get(0).fingerprint());

    Path dir = tmp.resolve("published");
    Cli export = Cli.run(new SchemasCommand(), "--export", dir.toString());
    assertThat(export.exit).isZero();
    long versions = SchemaCatalog.builtIn().records().stream()
        .mapToLong(r -> SchemaCatalog.builtIn().versions(r).size()).sum();
    try (var files = Files.list(dir)) {
      assertThat(files.count()).isEqualTo(versions);
    }
    // the exported set is what readers resolve against: it agrees with the built-in one
    SchemaCatalog reread = SchemaCatalog.builtIn().withDirectory(dir);
    for (String r : reread.records()) {
      assertThat(reread.versions(r)).hasSameSizeAs(SchemaCatalog.builtIn().versions(r));
    }
  }

  @Test
  void anUnknownRecordOrVersionIsNamed() {
    Cli noRecord = Cli.run(new SchemasCommand(), "Forcast");
    assertThat(noRecord.exit).isEqualTo(2);
    assertThat(noRecord.err).contains("no record named 'Forcast' (records: TemperatureFrame, Forecast,");
    Cli noVersion = Cli.run(new SchemasCommand(), "Forecast:9");
    assertThat(noVersion.exit).isEqualTo(2);
    assertThat(noVersion.err).contains("Forecast has no version '9'");
  }
}
