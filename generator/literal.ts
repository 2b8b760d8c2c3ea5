// Reads a literal from the declaration's syntax tree without running anything. The generator
// only trusts what it can see: a variable or a call could be anything at run time.
import { Node, SyntaxKind } from "ts-morph";
import { diagnosticAt, DiagnosticError } from "./diagnostics.js";

export type Literal = string | number | boolean | null | Literal[] | { [key: string]: Literal };

/** Strips `( … )`, `as const`, `satisfies T` and `<T>` casts, which change no value. */
export function unwrapExpression(node: Node): Node {
  let current = node;
  for (;;) {
    if (Node.isParenthesizedExpression(current) || Node.isAsExpression(current) || Node.isSatisfiesExpression(current) || Node.isTypeAssertion(current)) {
      current = current.getExpression();
    } else {
      return current;
    }
  }
}

/**
 * The value of a literal expression. `what` names it in the diagnostic, e.g.
 * `option timeout of queue "sendInvoice"`; the diagnostic points at the first non-literal part.
 */
export function readLiteral(node: Node, what: string): Literal {
  const value = unwrapExpression(node);
  if (Node.isStringLiteral(value) || Node.isNoSubstitutionTemplateLiteral(value)) return value.getLiteralValue();
  if (Node.isNumericLiteral(value)) return value.getLiteralValue();
  if (Node.isTrueLiteral(value)) return true;
  if (Node.isFalseLiteral(value)) return false;
  if (Node.isNullLiteral(value)) return null;
  if (Node.isPrefixUnaryExpression(value)) {
    const operand = unwrapExpression(value.getOperand());
    if (Node.isNumericLiteral(operand)) {
      const n = operand.getLiteralValue();
      if (value.getOperatorToken() === SyntaxKind.MinusToken) return -n;
      if (value.getOperatorToken() === SyntaxKind.PlusToken) return n;
    }
  }
  if (Node.isArrayLiteralExpression(value)) {
    return value.getElements().map((element, i) => readLiteral(element, `${what}[${i}]`));
  }
  if (Node.isObjectLiteralExpression(value)) {
    const result: { [key: string]: Literal } = {};
    for (const property of value.getProperties()) {
      if (!Node.isPropertyAssignment(property)) throw nonLiteral(property, what);
      const name = propertyName(property.getNameNode());
      if (name === undefined) throw nonLiteral(property.getNameNode(), what);
      result[name] = readLiteral(property.getInitializerOrThrow(), `${what}.${name}`);
    }
    return result;
  }
  throw nonLiteral(value, what);
}

/** The name of a property: an identifier or a string/number literal; undefined when computed. */
export function propertyName(node: Node): string | undefined {
  if (Node.isIdentifier(node) || Node.isPrivateIdentifier(node)) return node.getText();
  if (Node.isStringLiteral(node) || Node.isNoSubstitutionTemplateLiteral(node)) return node.getLiteralValue();
  if (Node.isNumericLiteral(node)) return String(node.getLiteralValue());
  return undefined;
}

function nonLiteral(node: Node, what: string): DiagnosticError {
  return new DiagnosticError(
    diagnosticAt(
      node,
      `${what} must be a literal value, found \`${abbreviate(node.getText())}\` (sidetrack generate reads the file without running it)`,
      "write the value itself (a number, string, boolean, array or object of those) instead of a variable, call or expression",
    ),
  );
}

function abbreviate(text: string): string {
  const oneLine = text.replace(/\s+/g, " ");
  return oneLine.length > 40 ? `${oneLine.slice(0, 37)}...` : oneLine;
}
