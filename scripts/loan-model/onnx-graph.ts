// The fitted loan model as an ONNX graph with the interface the server
// expects: features [N, 9] in; approval_probability [N, 1] and
// contributions [N, 6] out. Feature engineering and standardization are in
// the graph, with the same formulas as fit.ts's MODEL_FEATURES (checked by name
// here, and output for output against the TypeScript model after export).
import onnxProto from "onnx-proto";
import { INPUT_COLUMNS } from "./data-rule.js";
import type { FittedModel } from "./fit.js";

const { onnx } = onnxProto;

export const OPSET = 13;
export const IR_VERSION = 8;

/** Columns of the `contributions` output. */
export const CONTRIBUTION_COLUMNS = ["debt_to_income", "income", "credit_score", "employment_years", "age", "loan_purpose"] as const;
/** Engineered features 0..4 are one contribution each; the four purpose terms sum into loan_purpose. */
const SCALAR_FEATURES = 5;
const ELDERLY_AGE = 62;
/** What the graph below computes, in order: fit.ts's MODEL_FEATURES must be the same. */
const GRAPH_FEATURES = [
  "debt_to_income",
  "log_income",
  "credit_score",
  "log1p_employment_years",
  "age_62_or_older",
  "purpose_home",
  "purpose_car",
  "purpose_education",
  "purpose_personal",
];

type TensorProto = InstanceType<typeof onnx.TensorProto>;
type NodeProto = InstanceType<typeof onnx.NodeProto>;

const floatTensor = (name: string, dims: number[], values: number[]): TensorProto =>
  onnx.TensorProto.create({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, floatData: values.map(Math.fround) });

const int64Tensor = (name: string, values: number[]): TensorProto =>
  onnx.TensorProto.create({ name, dims: [values.length], dataType: onnx.TensorProto.DataType.INT64, int64Data: values });

function node(opType: string, inputs: string[], outputs: string[], attributes: Record<string, number> = {}): NodeProto {
  const attribute = Object.entries(attributes).map(([name, i]) => onnx.AttributeProto.create({ name, i, type: onnx.AttributeProto.AttributeType.INT }));
  return onnx.NodeProto.create({ name: outputs[0], opType, input: inputs, output: outputs, attribute });
}

function batchedFloat(name: string, columns: number, docString: string) {
  return onnx.ValueInfoProto.create({
    name,
    docString,
    type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: [{ dimParam: "batch" }, { dimValue: columns }] } } },
  });
}

/** Slices columns [start, end) of `input` into `output`. */
function slice(input: string, output: string, start: number, end: number): { nodes: NodeProto[]; inits: TensorProto[] } {
  return {
    inits: [int64Tensor(`${output}_starts`, [start]), int64Tensor(`${output}_ends`, [end])],
    nodes: [node("Slice", [input, `${output}_starts`, `${output}_ends`, "axis1"], [output])],
  };
}

export function buildOnnxModel(model: FittedModel, modelVersion: number): Uint8Array {
  const names = model.features.map((f) => f.name).join(", ");
  if (names !== GRAPH_FEATURES.join(", ")) throw new Error(`the graph computes ${GRAPH_FEATURES.join(", ")}, not ${names}`);
  const column = (name: (typeof INPUT_COLUMNS)[number]) => INPUT_COLUMNS.indexOf(name);
  const slices = [
    slice("features", "age", column("age"), column("age") + 1),
    slice("features", "income", column("income"), column("income") + 1),
    slice("features", "credit_score", column("credit_score"), column("credit_score") + 1),
    slice("features", "employment_years", column("employment_years"), column("employment_years") + 1),
    slice("features", "loan_amount", column("loan_amount"), column("loan_amount") + 1),
    slice("features", "purpose_one_hot", column("purpose_home"), column("purpose_personal") + 1),
    slice("terms", "scalar_terms", 0, SCALAR_FEATURES),
    slice("terms", "purpose_terms", SCALAR_FEATURES, GRAPH_FEATURES.length),
  ];
  const n = GRAPH_FEATURES.length;
  const initializer: TensorProto[] = [
    int64Tensor("axis1", [1]),
    floatTensor("one", [], [1]),
    floatTensor("elderly_age", [], [ELDERLY_AGE]),
    floatTensor("feature_mean", [n], model.standardizer.mean),
    floatTensor("feature_std", [n], model.standardizer.std),
    floatTensor("weights", [n], model.weights),
    floatTensor("bias", [], [model.bias]),
    ...slices.flatMap((s) => s.inits),
  ];
  const [age, income, credit, employment, loan, purpose, scalarTerms, purposeTerms] = slices.map((s) => s.nodes);
  const nodes: NodeProto[] = [
    ...age,
    ...income,
    ...credit,
    ...employment,
    ...loan,
    ...purpose,
    node("Div", ["loan_amount", "income"], ["debt_to_income"]),
    node("Log", ["income"], ["log_income"]),
    node("Add", ["employment_years", "one"], ["employment_years_plus_1"]),
    node("Log", ["employment_years_plus_1"], ["log1p_employment_years"]),
    node("GreaterOrEqual", ["age", "elderly_age"], ["is_62_or_older"]),
    node("Cast", ["is_62_or_older"], ["age_62_or_older"], { to: onnx.TensorProto.DataType.FLOAT }),
    node("Concat", ["debt_to_income", "log_income", "credit_score", "log1p_employment_years", "age_62_or_older", "purpose_one_hot"], ["engineered"], {
      axis: 1,
    }),
    node("Sub", ["engineered", "feature_mean"], ["centered"]),
    node("Div", ["centered", "feature_std"], ["standardized"]),
    node("Mul", ["standardized", "weights"], ["terms"]),
    ...scalarTerms,
    ...purposeTerms,
    node("ReduceSum", ["purpose_terms", "axis1"], ["purpose_contribution"], { keepdims: 1 }),
    node("Concat", ["scalar_terms", "purpose_contribution"], ["contributions"], { axis: 1 }),
    node("ReduceSum", ["contributions", "axis1"], ["contribution_sum"], { keepdims: 1 }),
    node("Add", ["contribution_sum", "bias"], ["logit"]),
    node("Sigmoid", ["logit"], ["approval_probability"]),
  ];
  const graph = onnx.GraphProto.create({
    name: "loan_approval",
    docString: "Logistic regression with sign-constrained weights on monotone loan features; see MODEL_CARD.md.",
    node: nodes,
    initializer,
    input: [batchedFloat("features", INPUT_COLUMNS.length, `columns: ${INPUT_COLUMNS.join(", ")}`)],
    output: [
      batchedFloat("approval_probability", 1, "P(approved) = sigmoid(logit)"),
      batchedFloat("contributions", CONTRIBUTION_COLUMNS.length, `logit contributions: ${CONTRIBUTION_COLUMNS.join(", ")}`),
    ],
  });
  const proto = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: "", version: OPSET }],
    producerName: "prediction-server/scripts/train-loan-model.ts",
    modelVersion,
    graph,
  });
  return onnx.ModelProto.encode(proto).finish();
}

/** The contributions a row gets from its feature terms, as the graph computes them (in float64). */
export function contributions(t: number[]): number[] {
  const purpose = t.slice(SCALAR_FEATURES).reduce((a, b) => a + b, 0);
  return [...t.slice(0, SCALAR_FEATURES), purpose];
}
