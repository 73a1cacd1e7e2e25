package ai.lsntp.system;

import ai.lsntp.testing.TestPaths;
import java.nio.file.Path;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.xpath.XPath;
import javax.xml.xpath.XPathFactory;
import org.w3c.dom.Document;

/** What the Maven build produces, read from the poms (not restated by hand). */
final class BuildFacts {
  final String artifactId;
  final String version;
  final String classifier;
  final String mainClass;
  final String flinkVersion;
  final String kafkaVersion;
  final String gpuOnnxArtifact;
  final String toolsArtifactId;
  final String toolsClassifier;

  private BuildFacts(Path root) throws Exception {
    DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
    XPath x = XPathFactory.newInstance().newXPath();
    Document job = f.newDocumentBuilder().parse(root.resolve("flink-job/pom.xml").toFile());
    Document parent = f.newDocumentBuilder().parse(root.resolve("pom.xml").toFile());
    Document tools = f.newDocumentBuilder().parse(root.resolve("tools/pom.xml").toFile());
    toolsArtifactId = x.evaluate("/*[local-name()='project']/*[local-name()='artifactId']", tools).trim();
    toolsClassifier = x.evaluate("//*[local-name()='shadedClassifierName']", tools).trim();
    artifactId = x.evaluate("/*[local-name()='project']/*[local-name()='artifactId']", job).trim();
    version = x.evaluate("/*[local-name()='project']/*[local-name()='parent']/*[local-name()='version']", job).trim();
    classifier = x.evaluate("//*[local-name()='shadedClassifierName']", job).trim();
    mainClass = x.evaluate("//*[local-name()='transformer'][contains(@implementation,'ManifestResourceTransformer')]"
        + "/*[local-name()='mainClass']", job).trim();
    flinkVersion = x.evaluate("//*[local-name()='properties']/*[local-name()='flink.version']", parent).trim();
    kafkaVersion = x.evaluate("//*[local-name()='properties']/*[local-name()='kafka.version']", parent).trim();
    gpuOnnxArtifact = x.evaluate("//*[local-name()='profile'][*[local-name()='id']='gpu']//*[local-name()='onnxruntime.artifact']",
        parent).trim();
  }

  static BuildFacts read() throws Exception {
    BuildFacts b = new BuildFacts(TestPaths.root());
    for (String s : new String[] {b.artifactId, b.version, b.classifier, b.mainClass, b.flinkVersion, b.kafkaVersion,
        b.toolsArtifactId, b.toolsClassifier}) {
      if (s.isEmpty()) {
        throw new AssertionError("could not read the build facts from the poms");
      }
    }
    return b;
  }

  /** The Flink application jar, relative to the repository root. */
  String appJar() {
    return "flink-job/target/" + artifactId + "-" + version + "-" + classifier + ".jar";
  }

  /** The tools jar for containers (replay, watch), relative to the repository root. */
  String toolsJar() {
    return "tools/target/" + toolsArtifactId + "-" + version + "-" + toolsClassifier + ".jar";
  }

  /** Source file of a class of flink-job's main code. */
  Path source(String className) {
    return TestPaths.root().resolve("flink-job/src/main/java/" + className.replace('.', '/') + ".java");
  }
}
